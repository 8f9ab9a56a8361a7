"""The built-in rules on realistic log excerpts, through the offline check (decode + rules)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stackwarden.agent.logs.check import check_files, default_settings, load_ruleset
from stackwarden.agent.logs.sigma.ruleset import CorrelationOverride


def _check(tmp_path: Path, text: str, name: str = "auth.log", **settings: object) -> list:
    path = tmp_path / name
    path.write_text(text)
    ruleset = load_ruleset(None, default_settings(**settings))  # type: ignore[arg-type]
    return check_files([path], ruleset).alerts


def _ssh(times_ips: list[tuple[str, str]], kind: str = "Failed password for root") -> str:
    return "".join(f"Nov 29 06:{t} web1 sshd[{1000 + i}]: {kind} from {ip} port {40000 + i} "
                   f"ssh2\n" for i, (t, ip) in enumerate(times_ips))


def test_builtin_rules_load() -> None:
    ruleset = load_ruleset()
    assert not ruleset.failures
    assert len(ruleset.rules) >= 10 and len(ruleset.correlations) >= 8


@pytest.mark.parametrize("times,fires", [
    (["00:00", "00:15", "00:30", "00:45", "01:00"], True),  # 5 in 60 s (inclusive)
    (["00:00", "00:15", "00:30", "00:45"], False),  # 4
    (["00:00", "00:15", "00:30", "00:45", "01:01"], False),  # 5 in 61 s
])
def test_ssh_brute_force_threshold(tmp_path: Path, times: list[str], fires: bool) -> None:
    alerts = _check(tmp_path, _ssh([(t, "198.51.100.7") for t in times]))
    brute = [a for a in alerts if a.title == "SSH brute force"]
    assert bool(brute) is fires
    if fires:
        assert brute[0].group == (("src_ip", "198.51.100.7"),) and brute[0].count == 5


def test_ssh_brute_force_counts_publickey_and_invalid_users(tmp_path: Path) -> None:
    lines = (_ssh([("00:0" + str(i), "203.0.113.5") for i in range(3)],
                  "Failed publickey for invalid user admin")
             + _ssh([("00:1" + str(i), "203.0.113.5") for i in range(2)],
                    "Failed password for invalid user oracle"))
    lines += _ssh([("00:2" + str(i), "203.0.113.5") for i in range(5)],
                  "Failed keyboard-interactive/pam for root")  # not in the default rule
    alerts = [a for a in _check(tmp_path, lines) if a.title == "SSH brute force"]
    assert [(a.group, a.count) for a in alerts] == [((("src_ip", "203.0.113.5"),), 5)]


def test_ssh_brute_force_is_configurable(tmp_path: Path) -> None:
    times = ["00:00", "00:10", "00:20"]
    override = {"stackwarden_ssh_brute_force": CorrelationOverride(threshold=3, timespan=30)}
    alerts = _check(tmp_path, _ssh([(t, "198.51.100.7") for t in times]), overrides=override)
    assert [a.title for a in alerts if a.title == "SSH brute force"] == ["SSH brute force"]


def test_login_after_failures(tmp_path: Path) -> None:
    text = _ssh([("00:00", "192.0.2.50"), ("00:20", "192.0.2.50"), ("00:40", "192.0.2.50")])
    text += ("Nov 29 06:02:00 web1 sshd[2000]: Accepted password for deploy from 192.0.2.50 "
             "port 50000 ssh2\n"
             "Nov 29 06:02:00 web1 sshd[2001]: Accepted publickey for alice from 192.0.2.60 "
             "port 50001 ssh2: ED25519 SHA256:abc\n")
    alerts = [a for a in _check(tmp_path, text) if a.title == "Successful SSH login after failures"]
    assert [a.group for a in alerts] == [(("src_ip", "192.0.2.50"),)]


SUDO = ("Nov 29 06:00:00 web1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; "
        "COMMAND=/usr/bin/systemctl restart nginx\n"
        "Nov 29 06:00:05 web1 sudo:  mallory : TTY=pts/1 ; PWD=/tmp ; USER=root ; "
        "COMMAND=/bin/bash\n"
        "Nov 29 06:00:09 web1 sudo:      eve : user NOT in sudoers ; TTY=pts/2 ; PWD=/ ; "
        "USER=root ; COMMAND=/bin/cat /etc/shadow\n")


def test_sudo_to_root_by_unexpected_users(tmp_path: Path) -> None:
    alerts = _check(tmp_path, SUDO, placeholders={"sudo_root_allowed_users": ["alice"]})
    unexpected = [a for a in alerts if a.title == "sudo to root by an unexpected user"]
    assert [a.sample.split("sudo:")[1].split(":")[0].strip() for a in unexpected] == ["mallory"]
    denied = [a for a in alerts if a.title.startswith("sudo refused")]
    assert len(denied) == 1 and "NOT in sudoers" in denied[0].sample


def test_new_user_and_admin_group(tmp_path: Path) -> None:
    text = ("Nov 29 06:00:00 web1 useradd[900]: new user: name=backdoor, UID=0, GID=0, "
            "home=/root, shell=/bin/bash, from=/dev/pts/0\n"
            "Nov 29 06:00:01 web1 usermod[901]: add 'backdoor' to group 'sudo'\n"
            "Nov 29 06:00:02 web1 usermod[902]: add 'bob' to group 'video'\n")
    alerts = [a for a in _check(tmp_path, text) if a.rule_id.startswith("8ce04e90")]
    assert len(alerts) == 1 and alerts[0].count == 2


def test_ssh_key_added_through_an_audit_watch(tmp_path: Path) -> None:
    text = ('type=SYSCALL msg=audit(1764396000.100:77): arch=c000003e syscall=257 success=yes '
            'exit=3 a0=ffffff9c a1=55 a2=441 a3=1b6 items=2 ppid=10 pid=11 auid=1000 uid=0 '
            'gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="bash" '
            'exe="/usr/bin/bash" key="ssh_keys"\n'
            'type=PATH msg=audit(1764396000.100:77): item=1 name="/root/.ssh/authorized_keys" '
            'inode=1 dev=fd:01 mode=0100600 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL\n'
            'type=EOE msg=audit(1764396000.100:77): \n')
    alerts = _check(tmp_path, text, name="audit.log")
    assert [a.title for a in alerts] == ["SSH authorized_keys written (audit watch)"]


ACCESS = [
    ('203.0.113.10 - - [29/Nov/2026:06:00:00 +0000] "GET /index.php?id=1%20UNION%20SELECT%20'
    'user,password%20FROM%20users HTTP/1.1" 200 512 "-" "Mozilla/5.0"'),
    ('203.0.113.10 - - [29/Nov/2026:06:00:01 +0000] "GET /item?id=1\' OR \'1\'=\'1 HTTP/1.1" '
    '200 512 "-" "Mozilla/5.0"'),
    ('203.0.113.11 - - [29/Nov/2026:06:00:02 +0000] "GET /download?file=../../../../etc/passwd '
    'HTTP/1.1" 200 512 "-" "curl/8.0"'),
    ('203.0.113.12 - - [29/Nov/2026:06:00:03 +0000] "GET /static/..%2f..%2fwin.ini HTTP/1.1" 404 '
    '0 "-" "Mozilla/5.0"'),
    ('203.0.113.13 - - [29/Nov/2026:06:00:04 +0000] "GET / HTTP/1.1" 200 512 "-" '
    '"Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000001)"'),
    '198.51.100.1 - - [29/Nov/2026:06:00:05 +0000] "GET /about HTTP/1.1" 200 512 "-" "Mozilla/5.0"',
]


def test_web_attacks(tmp_path: Path) -> None:
    probes = [f'203.0.113.99 - - [29/Nov/2026:06:01:{i:02d} +0000] "GET /backup{i}.zip '
              f'HTTP/1.1" 404 0 "-" "python-requests/2.31"' for i in range(25)]
    alerts = _check(tmp_path, "\n".join(ACCESS + probes) + "\n", name="access.log")
    found = {(a.title, a.group_text, a.count) for a in alerts}
    assert found == {
        ("SQL injection attempts", "c-ip=203.0.113.10", 2),
        ("Path traversal attempts", "c-ip=203.0.113.11", 1),
        ("Path traversal attempts", "c-ip=203.0.113.12", 1),
        ("Web scanning (scanner user agent)", "c-ip=203.0.113.13", 1),
        ("Web content discovery (many distinct paths not found)", "c-ip=203.0.113.99", 25),
    }


def test_kubectl_exec(tmp_path: Path) -> None:
    def audit(stage: str, verb: str, sub: str, user: str = "alice") -> str:
        return json.dumps({
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
            "auditID": "0b2a", "stage": stage, "verb": verb,
            "requestURI": f"/api/v1/namespaces/prod/pods/web-0/{sub}?command=sh",
            "user": {"username": user, "groups": ["system:authenticated"]},
            "sourceIPs": ["192.0.2.4"],
            "objectRef": {"resource": "pods", "namespace": "prod", "name": "web-0",
                          "apiVersion": "v1", "subresource": sub},
            "responseStatus": {"code": 101},
            "requestReceivedTimestamp": "2026-11-29T06:00:00.000000Z",
            "stageTimestamp": "2026-11-29T06:00:00.100000Z"})

    lines = [audit("ResponseStarted", "create", "exec"), audit("ResponseComplete", "create",
                                                               "exec"),
             audit("ResponseComplete", "get", "log"), audit("ResponseComplete", "create",
                                                            "attach", "bob")]
    alerts = _check(tmp_path, "\n".join(lines) + "\n", name="kube-audit.log")
    assert sorted(a.group_text for a in alerts) == [
        "user.username=alice objectRef.namespace=prod objectRef.name=web-0",
        "user.username=bob objectRef.namespace=prod objectRef.name=web-0"]
