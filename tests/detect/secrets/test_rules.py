"""Rule loading: the shipped set, user overrides, gitleaks configurations, and their errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stackwarden.detect.secrets.engine import Engine
from stackwarden.detect.secrets.model import RuleSet, SecretConfigError
from stackwarden.detect.secrets.rules import load_ruleset
from tests.detect.secrets.conftest import HS_CACHE, found
from tests.helpers.env import shared_data

REQUIRED_FAMILIES = [  # issue 4's list: each must have at least one rule
    "aws-access-token", "aws-credential-pair", "gcp-service-account", "gcp-api-key",
    "azure-storage-account-key", "azure-sas-token", "azure-storage-connection-string",
    "github-pat", "github-fine-grained-pat", "github-app-token", "gitlab-pat",
    "bitbucket-app-password", "circleci-personal-token", "slack-bot-token",
    "stripe-access-token", "twilio-api-key", "sendgrid-api-token", "mailgun-private-api-token",
    "shopify-access-token", "datadog-api-key", "npm-access-token", "pypi-upload-token",
    "rubygems-api-token", "dockerhub-pat", "postgres-uri-password", "private-key-rsa",
    "private-key-ec", "private-key-dsa", "private-key-openssh", "private-key-pgp",
    "private-key-pkcs8", "private-key-pkcs8-encrypted", "pkcs12-file", "jwt",
    "generic-password", "generic-secret", "generic-token", "dotenv-secret", "npmrc-auth-token",
    "pypirc-password", "git-credentials", "docker-config-auth", "kubeconfig-token",
    "kubeconfig-client-key-data",
]


def test_shipped_rules(ruleset: RuleSet) -> None:
    ids = [r.id for r in ruleset.rules]
    assert len(ids) >= 150 and len(ids) == len(set(ids))
    assert not set(REQUIRED_FAMILIES) - set(ids)
    for rule in ruleset.rules:
        assert rule.reference.startswith("https://"), rule.id
        assert rule.title and rule.title != rule.id, rule.id
        # every shipped pattern is bounded: no match can be longer than a few KiB
        assert rule.pattern is None or rule.pattern.max_width is not None, rule.id
        assert rule.pattern is None or rule.pattern.max_width < 20_000, rule.id
    assert ruleset.warnings == ()


def test_shipped_rules_compile_without_refusal(engine: Engine) -> None:
    assert engine.refused == {} and engine.warnings == []


def test_default_allowlists_do_not_hide_dependency_trees(engine: Engine) -> None:
    text = 'TOKEN = "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"'
    for path in ("node_modules/pkg/index.js", "lib/python3.11/site-packages/x/y.py",
                 "site-packages/pkg-1.0.dist-info/METADATA", "vendor/github.com/x/y.go"):
        assert not engine.path_allowed(path)
        assert found(engine, text, path), path


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_user_file_adds_overrides_and_disables(tmp_path: Path) -> None:
    config = write(tmp_path, "mine.toml", """
disable = ["generic-key"]

[[rule]]
id = "acme-token"
title = "ACME deploy token"
severity = "critical"
regex = '''\\b(acme_[a-z0-9]{24})\\b'''
keywords = ["acme_"]
reference = "https://docs.acme.example/tokens"

[[rule]]
id = "github-pat"
severity = "medium"

[[rule.allowlist]]
paths = ['''^fixtures/''']
""")
    rules = load_ruleset([config])
    assert rules.rule("acme-token").severity == "critical"
    assert rules.rule("github-pat").severity == "medium"
    assert rules.rule("github-pat").validate == "github-crc32"  # untouched fields stay
    assert "generic-key" not in {r.id for r in rules.rules}
    engine = Engine(rules, cache=HS_CACHE)
    assert found(engine, "x = acme_0123456789abcdefghijklmn") == [
        ("acme-token", "acme_0123456789abcdefghijklmn")]
    token = 'T = "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"'
    assert found(engine, token, "fixtures/a.py") == []
    assert found(engine, token, "src/a.py")


MALFORMED = [  # (file content, message fragments: file, rule and field are named)
    ("[[rule]]\nid = 'x'\nregex = '''(a'''\n", ["rule 'x'", "field 'regex'", "missing"]),
    ("[[rule]]\nid = 'x'\nregex = 'a'\nseverity = 'dire'\n", ["rule 'x'", "field 'severity'"]),
    ("[[rule]]\nid = 'x'\nregex = 'a'\nentropy = 'high'\n", ["rule 'x'", "field 'entropy'"]),
    ("[[rule]]\nid = 'x'\nregex = 'a'\nvalidate = 'luhn'\n", ["rule 'x'", "field 'validate'"]),
    ("[[rule]]\nid = 'x'\nregex = 'a'\nkeyword = ['a']\n", ["rule 'x'", "field 'keyword'",
                                                           "unknown"]),
    ("[[rule]]\nregex = 'a'\n", ["rule #1", "field 'id'"]),
    ("[[rule]]\nid = 'x'\n", ["rule 'x'", "field 'regex'"]),
    ("[[rule]]\nid = 'x'\nregex = '(a)'\nsecret_group = 3\n", ["rule 'x'", "field 'secret_group'"]),
    ("[[rule]]\nid = 'x'\nregex = 'a'\n[[rule.allowlist]]\n", ["rule 'x'", "field 'allowlist'"]),
    ("[[rule]]\nid = 'x'\nregex = 'a'\nrequired = [{id = 'nope'}]\n", ["rule 'x'",
                                                                      "field 'required'"]),
    ("[[rule]]\nid = 'x'\nregex = 'a\n", ["invalid TOML"]),
    ("rules_typo = 1\n[[rule]]\nid='x'\nregex='a'\n", ["unknown top-level field 'rules_typo'"]),
]


@pytest.mark.parametrize(("text", "fragments"), MALFORMED)
def test_malformed_rule_file_names_file_rule_and_field(tmp_path: Path, text: str,
                                                       fragments: list[str]) -> None:
    config = write(tmp_path, "bad.toml", text)
    with pytest.raises(SecretConfigError) as error:
        load_ruleset([config])
    message = str(error.value)
    assert str(config) in message
    for fragment in fragments:
        assert fragment in message


def test_unsafe_pattern_is_refused_with_a_warning(tmp_path: Path) -> None:
    config = write(tmp_path, "r.toml", "[[rule]]\nid = 'slow'\nregex = '''(a+)+b'''\n"
                   "[[rule]]\nid = 'fine'\nregex = '''fine[0-9]{4}'''\n")
    rules = load_ruleset([config], use_default=False)
    assert [r.id for r in rules.rules] == ["fine"]
    assert any("'slow' refused" in w and "backtrack" in w for w in rules.warnings)


def test_pattern_hyperscan_cannot_compile_is_refused_with_reason(tmp_path: Path) -> None:
    # A bare lookahead is only a zero-width assertion: Hyperscan rejects it in both modes,
    # while Python would accept it; the rule is refused at load, the others still run.
    config = write(tmp_path, "r.toml", "[[rule]]\nid = 'empty'\nregex = '''(?=x)'''\n"
                   "[[rule]]\nid = 'fine'\nregex = '''fine[0-9]{4}'''\n")
    engine = Engine(load_ruleset([config], use_default=False), cache=tmp_path / "hs")
    assert set(engine.refused) == {"empty"}
    assert "Hyperscan cannot compile" in engine.refused["empty"]
    assert any("'empty'" in w for w in engine.warnings)
    assert found(engine, "fine1234") == [("fine", "fine1234")]


def test_compiled_database_is_cached_by_content(tmp_path: Path) -> None:
    config = write(tmp_path, "r.toml", "[[rule]]\nid = 'a'\nregex = 'a_[0-9]{8}'\n"
                   "keywords = ['a_']\n")
    ruleset = load_ruleset([config], use_default=False)
    first = Engine(ruleset, cache=tmp_path)
    second = Engine(ruleset, cache=tmp_path)
    assert not first.cached and second.cached
    assert len(list(tmp_path.glob("*.hsdb"))) == 1
    for blob in tmp_path.glob("*.hsdb"):
        blob.write_bytes(b"SWHS1\ngarbage")  # a corrupt cache is rebuilt, not trusted
    assert not Engine(ruleset, cache=tmp_path).cached


# --- gitleaks configurations -------------------------------------------------------------

def test_gitleaks_default_config_loads_and_runs() -> None:
    rules = load_ruleset([shared_data("gitleaks", "config", "gitleaks.toml")])
    assert len(rules.rules) == 222 and rules.warnings == ()
    engine = Engine(rules, cache=HS_CACHE)
    assert engine.refused == {}
    assert ("github-pat", "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") in found(
        engine, 'token = "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"')
    # its global path allowlist (node_modules, lockfiles …) is the user's choice here
    assert engine.path_allowed("node_modules/x/index.js")


GITLEAKS_VALID = {  # file -> rule ids after loading (gitleaks' own expectations)
    "valid/extend.toml": {"aws-access-key", "aws-secret-key", "aws-secret-key-again"},
    "valid/extend_disabled.toml": {"aws-secret-key", "pypi-upload-token"},
    "valid/allowlist_global_target_rules.toml": {"github-app-token", "github-oauth",
                                                 "github-pat"},
    "valid/rule_path_only.toml": {"python-files-only"},
    "composite.toml": {"primary-rule", "username-rule"},
}


@pytest.mark.parametrize(("name", "ids"), sorted(GITLEAKS_VALID.items()))
def test_gitleaks_valid_variants(name: str, ids: set[str], monkeypatch: pytest.MonkeyPatch
                                 ) -> None:
    base = shared_data("gitleaks", "testdata", "config")
    monkeypatch.chdir(shared_data("gitleaks", "config"))  # gitleaks resolves extend paths here
    rules = load_ruleset([os.path.join(base, name)])
    assert {r.id for r in rules.rules} == ids


def test_gitleaks_extend_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    base = shared_data("gitleaks", "testdata", "config", "valid")
    monkeypatch.chdir(shared_data("gitleaks", "config"))
    entropy = load_ruleset([os.path.join(base, "extend_rule_override_entropy.toml")])
    assert entropy.rule("aws-access-key").entropy == 999
    keywords = load_ruleset([os.path.join(base, "extend_rule_override_keywords.toml")])
    assert b"puppy" in keywords.rule("aws-access-key").keywords
    group = load_ruleset([os.path.join(base, "extend_rule_override_secret_group.toml")])
    assert group.rule("aws-access-key").secret_group == 2
    anded = load_ruleset([os.path.join(base, "extend_rule_allowlist_and.toml")])
    lists = anded.rule("aws-secret-key-again-again").allowlists
    assert [a.match_all for a in lists] == [False, True] and lists[1].regex_target == "line"


def test_gitleaks_allowlists_and_composites_apply(tmp_path: Path) -> None:
    config = shared_data("gitleaks", "testdata", "config", "composite.toml")
    engine = Engine(load_ruleset([config]), cache=HS_CACHE)
    both = 'username = "admin"\npassword = "hunter22"\n'
    assert found(engine, both) == [("primary-rule", "hunter22")]
    assert found(engine, 'password = "hunter22"\n') == []  # its required rule is absent
    targeted = Engine(load_ruleset([shared_data(
        "gitleaks", "testdata", "config", "valid", "allowlist_global_target_rules.toml")]),
        cache=HS_CACHE)
    token = "ghp_" + "a1B2" * 9
    assert found(targeted, token, "src/x.js") == [("github-pat", token)]
    assert found(targeted, token, "node_modules/@octokit/auth-token/README.md") == []
    assert found(targeted, "ghp_fake" + "a1B2" * 8) == []  # '.*fake.*' targets every rule


GITLEAKS_INVALID = {
    "invalid/allowlist_global_empty.toml": "needs at least one",
    "invalid/allowlist_global_old_and_new.toml": "'allowlist' and 'allowlists'",
    "invalid/allowlist_global_regextarget.toml": "'mtach'",
    "invalid/allowlist_global_target_rule_id.toml": "no rule 'github-pat'",
    "invalid/allowlist_rule_empty.toml": "needs at least one",
    "invalid/allowlist_rule_old_and_new.toml": "'allowlist' and 'allowlists'",
    "invalid/allowlist_rule_regextarget.toml": "'mtach'",
    "invalid/extend_invalid_base.toml": "does not exist",
    "invalid/extend_invalid_ruleid.toml": "field 'id'",
    "invalid/rule_bad_entropy_group.toml": "field 'secret_group'",
    "invalid/rule_missing_id.toml": "field 'id'",
    "invalid/rule_no_regex_or_path.toml": "needs a regex or a path",
}


@pytest.mark.parametrize(("name", "fragment"), sorted(GITLEAKS_INVALID.items()))
def test_gitleaks_invalid_variants(name: str, fragment: str, monkeypatch: pytest.MonkeyPatch
                                   ) -> None:
    path = os.path.join(shared_data("gitleaks", "testdata", "config"), name)
    monkeypatch.chdir(shared_data("gitleaks", "config"))
    with pytest.raises(SecretConfigError, match=fragment) as error:
        load_ruleset([path])
    assert os.path.basename(path) in str(error.value)
