"""Decoders on real-format lines (happy, odd and malformed): fields, log source and time.

Lines follow the formats as the daemons write them (OpenSSH, sudo 1.9, shadow-utils,
util-linux su, Linux-PAM, auditd 3 RAW and ENRICHED, Apache/nginx combined and error logs,
Kubernetes audit.k8s.io/v1, Suricata EVE, journalctl -o json).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stackwarden.agent.logs.check import check_files, load_ruleset
from stackwarden.agent.logs.decoders import detect_format, make_decoder
from stackwarden.agent.logs.decoders.base import MAX_LINE_CHARS

REF = datetime(2026, 11, 29, 12, 0, tzinfo=UTC).timestamp()

SYSLOG = [
    (("Nov 29 06:00:01 web1 sshd[812]: Failed password for invalid user admin from "
     "203.0.113.5 port 51234 ssh2"),
     {"program": "sshd", "pid": 812, "hostname": "web1", "action": "failed",
      "outcome": "failure", "auth_method": "password", "user": "admin", "invalid_user": True,
      "src_ip": "203.0.113.5", "src_port": 51234}),
    (("Nov 29 06:00:01 web1 sshd[812]: Failed publickey for root from 2001:db8::7 port 22 ssh2: "
     "RSA SHA256:Tz1nQ"),
     {"action": "failed", "auth_method": "publickey", "user": "root", "src_ip": "2001:db8::7"}),
    (("Nov 29 06:00:01 web1 sshd[812]: Accepted publickey for deploy from ::ffff:192.0.2.8 "
     "port 4022 ssh2: ED25519 SHA256:abc"),
     {"action": "accepted", "outcome": "success", "user": "deploy", "src_ip": "192.0.2.8"}),
    ("Nov 29 06:00:01 web1 sshd[812]: Invalid user oracle from 198.51.100.9 port 40000",
     {"action": "invalid_user", "outcome": "failure", "user": "oracle",
      "src_ip": "198.51.100.9"}),
    (("Nov 29 06:00:01 web1 sshd[812]: Connection closed by authenticating user root "
     "198.51.100.9 port 40000 [preauth]"),
     {"action": "connection_closed", "user": "root", "src_ip": "198.51.100.9",
      "preauth": True}),
    (("Nov 29 06:00:01 web1 sshd-session[812]: error: maximum authentication attempts exceeded "
     "for root from 198.51.100.9 port 40000 ssh2 [preauth]"),
     {"program": "sshd-session", "action": "max_auth_exceeded", "outcome": "failure"}),
    (("Nov 29 06:00:01 web1 sshd[812]: pam_unix(sshd:auth): authentication failure; logname= "
     "uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.9  user=root"),
     {"pam_module": "pam_unix", "pam_service": "sshd", "pam_type": "auth",
      "action": "authentication_failure", "src_ip": "198.51.100.9", "user": "root"}),
    (("Nov 29 06:00:02 web1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; "
     "COMMAND=/usr/bin/apt update"),
     {"program": "sudo", "user": "alice", "USER": "root", "target_user": "root",
      "TTY": "pts/0", "PWD": "/home/alice", "COMMAND": "/usr/bin/apt update",
      "action": "sudo_command", "outcome": "success"}),
    (("Nov 29 06:00:02 web1 sudo:      eve : 3 incorrect password attempts ; TTY=pts/2 ; "
     "PWD=/ ; USER=root ; COMMAND=/bin/sh"),
     {"action": "sudo_denied", "outcome": "failure", "reason": "3 incorrect password attempts",
      "user": "eve"}),
    (("Nov 29 06:00:02 web1 sudo: pam_unix(sudo:session): session opened for user root(uid=0) "
     "by alice(uid=1000)"),
     {"action": "session_opened", "user": "root", "by_user": "alice", "pam_service": "sudo"}),
    ("Nov 29 06:00:03 web1 su[77]: FAILED SU (to root) bob on pts/3",
     {"action": "su", "outcome": "failure", "user": "bob", "target_user": "root"}),
    (("Nov 29 06:00:04 web1 useradd[900]: new user: name=svc, UID=1001, GID=1001, "
     "home=/home/svc, shell=/bin/sh, from=/dev/pts/0"),
     {"action": "user_created", "target_user": "svc", "UID": "1001", "shell": "/bin/sh"}),
    ("Nov 29 06:00:04 web1 usermod[901]: add 'svc' to shadow group 'sudo'",
     {"action": "user_added_to_group", "target_user": "svc", "group": "sudo"}),
    ("Nov 29 06:00:04 web1 gpasswd[902]: user svc added by root to group docker",
     {"action": "user_added_to_group", "target_user": "svc", "group": "docker"}),
    ("Nov 29 06:00:04 web1 passwd[903]: pam_unix(passwd:chauthtok): password changed for svc",
     {"action": "password_changed", "target_user": "svc"}),
    ("Nov 29 06:00:05 web1 CRON[1000]: (root) CMD (run-parts /etc/cron.hourly)",
     {"program": "cron", "message": "(root) CMD (run-parts /etc/cron.hourly)"}),
    (("2026-11-29T06:00:06.123456+01:00 web1 sshd[5]: Accepted password for a from 192.0.2.1 "
     "port 1 ssh2"), {"action": "accepted", "hostname": "web1"}),
    (('<38>1 2026-11-29T06:00:07.5Z web1 sshd 4242 ID47 [origin ip="192.0.2.1"] Failed none '
     'for invalid user x from 192.0.2.2 port 2 ssh2'),
     {"program": "sshd", "pid": 4242, "msgid": "ID47", "origin.ip": "192.0.2.1",
      "facility": 4, "severity": 6, "auth_method": "none"}),
    ("Nov 29 06:00:08 web1 kernel: [12345.678] device eth0 entered promiscuous mode",
     {"program": "kernel"}),
    ("not a syslog line at all", {"message": "not a syslog line at all"}),
]


@pytest.mark.parametrize("line,expected", SYSLOG)
def test_syslog(line: str, expected: dict[str, Any]) -> None:
    event = make_decoder("syslog", reference_time=REF).decode(line)
    assert event is not None
    assert {k: event.fields.get(k) for k in expected} == expected
    assert event.source.product == "linux" and "syslog" in event.source.services
    assert event.text == line


def test_syslog_services_and_time() -> None:
    decoder = make_decoder("syslog", reference_time=REF)
    sshd = decoder.decode("Nov 29 06:00:01 web1 sshd[1]: Connection from 192.0.2.1 port 1")
    assert sshd is not None and {"sshd", "auth", "syslog"} <= sshd.source.services
    assert datetime.fromtimestamp(sshd.time).strftime("%m-%d %H:%M:%S") == "11-29 06:00:01"
    december = decoder.decode("Dec 31 23:59:59 web1 cron[1]: x")  # a year back
    assert december is not None and datetime.fromtimestamp(december.time).year == 2025
    iso = decoder.decode("2026-11-29T06:00:06.5+01:00 web1 x: y")
    assert iso is not None and iso.time == datetime(2026, 11, 29, 5, 0, 6, 500000,
                                                    tzinfo=UTC).timestamp()


def test_sshd_address_from_the_connection_for_addressless_failures() -> None:
    decoder = make_decoder("syslog", reference_time=REF)
    decoder.decode("Nov 29 06:00:01 web1 sshd[77]: Connection from 192.0.2.9 port 5 on "
                   "10.0.0.1 port 22")
    event = decoder.decode("Nov 29 06:00:02 web1 sshd[77]: Disconnecting: Too many "
                           "authentication failures [preauth]")
    assert event is not None and event.fields["src_ip"] == "192.0.2.9"
    assert event.fields["outcome"] == "failure"


AUDIT_EXECVE = [
    ('type=SYSCALL msg=audit(1764396000.123:456): arch=c000003e syscall=59 success=yes exit=0 '
    'a0=55d5 a1=55d6 a2=55d7 a3=0 items=2 ppid=100 pid=200 auid=1000 uid=0 gid=0 euid=0 '
    'suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="curl" exe="/usr/bin/curl" '
    'subj=unconfined key=(null)\x1dARCH=x86_64 SYSCALL=execve AUID="alice" UID="root"'),
    ('type=EXECVE msg=audit(1764396000.123:456): argc=3 a0="curl" a1="-o" '
    'a2=2F746D702F6120622E7368'),
    'type=CWD msg=audit(1764396000.123:456): cwd="/root"',
    ('type=PATH msg=audit(1764396000.123:456): item=0 name="/usr/bin/curl" inode=1 '
    'nametype=NORMAL'),
    'type=PROCTITLE msg=audit(1764396000.123:456): proctitle=6375726C002D6F',
    'type=EOE msg=audit(1764396000.123:456): ',
]


def test_auditd_records_and_assembled_process_creation() -> None:
    decoder = make_decoder("auditd")
    records = [decoder.decode(line) for line in AUDIT_EXECVE]
    syscall, execve, _cwd, _path, title, _ = records
    assert syscall is not None and syscall.fields["SYSCALL"] == "execve"
    assert syscall.fields["UID"] == "root" and syscall.fields["exe"] == "/usr/bin/curl"
    assert syscall.time == 1764396000.123 and syscall.source.services == {"auditd"}
    assert execve is not None and execve.fields["a2"] == "/tmp/a b.sh"  # hex decoded
    assert "/tmp/a b.sh" in execve.text  # keyword rules see the decoded argument too
    assert title is not None and title.fields["proctitle"] == "curl -o"
    assert [e.fields for e in decoder.pending] == [{
        "Image": "/usr/bin/curl", "CommandLine": "curl -o /tmp/a b.sh", "ProcessId": "200",
        "ParentProcessId": "100", "User": "root", "LogonId": "3", "comm": "curl",
        "auid": "1000", "uid": "0", "euid": "0", "CurrentDirectory": "/root"}]
    assert decoder.pending[0].source.category == "process_creation"


def test_auditd_numeric_syscall_and_user_records() -> None:
    decoder = make_decoder("auditd")
    raw = decoder.decode('type=SYSCALL msg=audit(1.0:1): arch=c000003e syscall=41 success=yes '
                         'exit=3 a0=26 a1=5 exe="/usr/bin/x"')
    assert raw is not None and raw.fields["SYSCALL"] == "socket" and raw.fields["a0"] == "26"
    user = decoder.decode("type=USER_CMD msg=audit(2.0:2): pid=1 uid=0 auid=1000 ses=1 "
                          "msg='cwd=\"/root\" cmd=6C73202D6C exe=\"/usr/bin/sudo\" "
                          "terminal=pts/0 res=success'")
    assert user is not None and user.fields["cmd"] == "ls -l" and user.fields["res"] == "success"


WEB = [
    (('192.0.2.1 - frank [29/Nov/2026:06:00:00 +0100] "GET /a/b.php?x=1&y=%27 HTTP/1.1" 200 '
     '2326 "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64)"'), "web",
     {"c-ip": "192.0.2.1", "cs-username": "frank", "cs-method": "GET",
      "cs-uri-query": "/a/b.php?x=1&y=%27", "cs-uri-stem": "/a/b.php", "cs-query": "x=1&y=%27",
      "cs-version": "HTTP/1.1", "sc-status": 200, "sc-bytes": 2326,
      "cs-referer": "https://example.com/", "cs-user-agent": "Mozilla/5.0 (X11; Linux x86_64)"}),
    ('192.0.2.1 - - [29/Nov/2026:06:00:00 +0000] "GET / HTTP/1.0" 304 -', "apache",
     {"sc-status": 304, "sc-bytes": None, "cs-user-agent": None}),
    (('www.example.com:443 192.0.2.1 - - [29/Nov/2026:06:00:00 +0000] "POST /login HTTP/2.0" '
     '401 12 "-" "curl/8.5"'), "web", {"s-sitename": "www.example.com", "s-port": 443,
                                      "cs-method": "POST", "cs-referer": None}),
    ('192.0.2.1 - - [29/Nov/2026:06:00:00 +0000] "\\x16\\x03\\x01\\x00" 400 157 "-" "-"', "nginx",
     {"cs-method": None, "sc-status": 400}),
    (('192.0.2.1 - - [29/Nov/2026:06:00:00 +0000] "GET /q?a=\\x22x\\x22 HTTP/1.1" 200 1 "-" '
     '"ua \\"quoted\\""'), "nginx", {"cs-uri-query": '/q?a="x"', "cs-user-agent": 'ua "quoted"'}),
]


@pytest.mark.parametrize("line,decoder,expected", WEB)
def test_web_access(line: str, decoder: str, expected: dict[str, Any]) -> None:
    event = make_decoder(decoder).decode(line)
    assert event is not None and event.source.category == "webserver"
    assert {k: event.fields.get(k) for k in expected} == expected
    assert event.time == datetime(2026, 11, 29, 5 if "+0100" in line else 6,
                                  tzinfo=UTC).timestamp()


def test_web_error_logs() -> None:
    apache = make_decoder("web").decode(
        "[Sun Nov 29 06:00:00.123456 2026] [core:error] [pid 42:tid 7] [client 192.0.2.1:5000] "
        "AH00126: Invalid URI in request GET /../../ HTTP/1.1")
    assert apache is not None and apache.source.services == {"apache"}
    assert apache.fields["c-ip"] == "192.0.2.1" and apache.fields["level"] == "error"
    nginx = make_decoder("web").decode(
        "2026/11/29 06:00:00 [alert] 100#100: worker process 7 exited on signal 6 (core dumped)")
    assert nginx is not None and nginx.source.services == {"nginx"}


def test_kubernetes_audit() -> None:
    line = json.dumps({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "verb": "create",
                       "user": {"username": "alice", "groups": ["dev"]},
                       "objectRef": {"resource": "pods", "subresource": "exec"},
                       "sourceIPs": ["192.0.2.4"],
                       "requestReceivedTimestamp": "2026-11-29T06:00:00.000000Z"})
    event = make_decoder("k8s-audit").decode(line)
    assert event is not None and event.source.product == "kubernetes"
    assert event.fields["user.username"] == "alice" and event.fields["user.groups"] == ["dev"]
    assert event.fields["objectRef.subresource"] == "exec"
    assert event.time == datetime(2026, 11, 29, 6, tzinfo=UTC).timestamp()


def test_suricata_eve() -> None:
    line = json.dumps({"timestamp": "2026-11-29T06:00:00.000000+0000", "event_type": "alert",
                       "src_ip": "192.0.2.1", "dest_ip": "10.0.0.5", "dest_port": 22,
                       "alert": {"signature_id": 2001219, "signature": "ET SCAN SSH Scan"}})
    event = make_decoder("suricata-eve").decode(line)
    assert event is not None and event.source.services == {"eve", "alert"}
    assert event.fields["alert.signature_id"] == 2001219
    assert event.time == datetime(2026, 11, 29, 6, tzinfo=UTC).timestamp()


def test_journald_entry_decodes_like_syslog() -> None:
    entry = {"__CURSOR": "s=abc;i=1", "__REALTIME_TIMESTAMP": "1764396000000000",
             "_HOSTNAME": "web1", "SYSLOG_IDENTIFIER": "sshd", "_PID": "812",
             "_SYSTEMD_UNIT": "ssh.service", "PRIORITY": "6",
             "MESSAGE": "Failed password for root from 203.0.113.5 port 1 ssh2"}
    event = make_decoder("journald").decode(json.dumps(entry))
    assert event is not None and {"sshd", "auth"} <= event.source.services
    assert event.fields["src_ip"] == "203.0.113.5" and event.fields["_SYSTEMD_UNIT"] == \
        "ssh.service"
    assert event.time == 1764396000.0 and event.text.startswith("sshd[812]: Failed")
    binary = dict(entry, MESSAGE=list(b"Accepted password for a from 192.0.2.1 port 1 ssh2"))
    decoded = make_decoder("journald").decode(json.dumps(binary))
    assert decoded is not None and decoded.fields["action"] == "accepted"


def test_json_lines() -> None:
    event = make_decoder("json").decode('{"ts": 1764396000, "a": {"b": {"c": 1}}, "l": [1, 2]}')
    assert event is not None and event.fields == {"ts": 1764396000, "a.b.c": 1, "l": [1, 2]}
    assert event.time == 1764396000.0
    broken = make_decoder("json").decode('{"unterminated": ')
    assert broken is not None and broken.extra == {"invalid_json": True}


@pytest.mark.parametrize("lines,expected", [
    (["Nov 29 06:00:01 web1 sshd[812]: x"], "syslog"),
    ([AUDIT_EXECVE[0]], "auditd"),
    ([WEB[0][0]], "web"),
    (['{"kind": "Event", "apiVersion": "audit.k8s.io/v1"}'], "k8s-audit"),
    (['{"timestamp": "2026-11-29T06:00:00Z", "event_type": "dns"}'], "suricata-eve"),
    (['{"__CURSOR": "c", "__REALTIME_TIMESTAMP": "1", "MESSAGE": "m"}'], "journald"),
    (['{"msg": "app"}'], "json"),
    (["", "   "], "syslog"),
])
def test_format_detection(lines: list[str], expected: str) -> None:
    assert detect_format(lines) == expected


def test_bad_input_through_the_offline_check(tmp_path: Path) -> None:
    """1 MB lines, invalid UTF-8, NUL bytes, a file cut mid-line: decoded, never a crash."""
    path = tmp_path / "auth.log"
    with path.open("wb") as handle:
        handle.write(b"Nov 29 06:00:00 web1 sshd[1]: Failed password for " + b"x" * 1_000_000
                     + b" from 192.0.2.1 port 1 ssh2\n")
        handle.write(b"Nov 29 06:00:01 web1 sshd[2]: Failed password for r\xff\xfeot from "
                     b"192.0.2.1 port 2 ssh2\n")
        handle.write(b"Nov 29 06:00:02 web1 sshd[3]: \x00\x00\x00\n")
        handle.write(b"Nov 29 06:00:03 web1 sshd[4]: Failed password for root from 192.0.2.1 "
                     b"port 3 ss")  # truncated: no newline at the end
    report = check_files([path], load_ruleset())
    assert report.lines == 4 and report.files[0].events == 4
    assert report.matches >= 2  # the invalid-UTF-8 user and the cut last line still count


def test_long_lines_are_cut_for_decoding() -> None:
    event = make_decoder("syslog").decode("Nov 29 06:00:00 h p: " + "y" * (MAX_LINE_CHARS * 2))
    assert event is not None and len(event.text) == MAX_LINE_CHARS
    assert event.extra == {"truncated": True}


def test_auditd_file_event_and_network_connection() -> None:
    decoder = make_decoder("auditd")
    for line in [
        ('type=SYSCALL msg=audit(1764396001.000:900): arch=c000003e syscall=257 success=yes '
        'exit=3 items=2 ppid=1 pid=321 auid=1000 uid=0 ses=2 comm="cp" exe="/usr/bin/cp" '
        'key="etc"'),
        'type=CWD msg=audit(1764396001.000:900): cwd="/etc/cron.d"',
        'type=PATH msg=audit(1764396001.000:900): item=0 name="/etc/cron.d" nametype=PARENT',
        'type=PATH msg=audit(1764396001.000:900): item=1 name="evil" nametype=CREATE',
        # an execve group without EOE, ended by the next serial (syslog-forwarded records)
        ('type=SYSCALL msg=audit(1764396002.000:901): arch=c000003e syscall=42 success=no '
        'exit=-115 items=0 ppid=1 pid=322 auid=1000 uid=33 ses=2 comm="nc" exe="/usr/bin/nc"'),
        ('type=SOCKADDR msg=audit(1764396002.000:901): saddr=0200115CC0000263'
        '0000000000000000'),
        'type=EOE msg=audit(1764396002.000:901): ',
    ]:
        decoder.decode(line)
    events = decoder.pending + decoder.flush()
    assert [(e.source.category, e.fields.get("TargetFilename") or e.fields.get("DestinationIp"))
            for e in events] == [("file_event", "/etc/cron.d/evil"),
                                 ("network_connection", "192.0.2.99")]
    assert events[1].fields["DestinationPort"] == 4444 and events[1].fields["Image"] == \
        "/usr/bin/nc"
