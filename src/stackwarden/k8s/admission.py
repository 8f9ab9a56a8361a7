"""The admission decision: one AdmissionReview in, one AdmissionReview out, one Decision kept.

`AdmissionController.review(body)` never raises. It applies, to Pods and to the pod templates
of Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs:

- the misconfiguration checks (`detect.misconfig`, the same checks as `scan-config`), each
  finding denied, warned about or let through by its severity under the policy;
- the image gate: registry allowed, digest rather than tag, and the verdict of the image's
  latest scan from the verdict store (in memory; no pull, no scan on the request path).

`enforce` denies what the policy denies; `audit` allows everything and turns each would-be
denial into a warning the client sees (`kubectl` prints them) — both record every decision.
See docs/admission.md.
"""

from __future__ import annotations

import fnmatch
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from stackwarden.detect.misconfig import build_scanner
from stackwarden.detect.misconfig.kubernetes import is_object
from stackwarden.k8s.decisions import AuditShipper, Decision, DecisionLog
from stackwarden.k8s.images import (
    Reason,
    reference_reasons,
    scan_reasons,
    workload_images,
)
from stackwarden.k8s.policy import AdmissionPolicy
from stackwarden.k8s.review import (
    AdmissionRequest,
    MalformedReview,
    build_response,
    clip,
    parse_review,
)
from stackwarden.k8s.verdicts import VerdictStore

log = logging.getLogger("stackwarden.admission")
# The image gate decides digests itself (`tag_not_digest`); the check would say it twice.
SUBSUMED_CHECKS = frozenset({"SW-K8S-031"})
CHECKED_SUBRESOURCES = frozenset({"", "ephemeralcontainers"})
MAX_REASONS_IN_MESSAGE = 8


@dataclass(frozen=True, slots=True)
class Review:
    """The AdmissionReview to send back, and the decision behind it."""

    response: dict[str, Any]
    decision: Decision


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def object_name(req: AdmissionRequest) -> str:
    """`namespace/name` of the object (generated names shown as `prefix*`)."""
    meta = req.object.get("metadata") if isinstance(req.object, Mapping) else None
    meta = meta if isinstance(meta, Mapping) else {}
    name = req.name or str(meta.get("name") or "") or (str(meta.get("generateName") or "") + "*")
    return f"{req.namespace}/{name}" if req.namespace else name


class AdmissionController:
    """Decides AdmissionReviews under one policy, with one verdict store."""

    def __init__(self, policy: AdmissionPolicy, store: VerdictStore | None = None, *,
                 decision_log: DecisionLog | None = None,
                 shipper: AuditShipper | None = None) -> None:
        self.policy = policy
        self.store = store or VerdictStore()
        self.decision_log = decision_log
        self.shipper = shipper
        self.scanner = build_scanner(policy.misconfig.policy_dir)

    def review(self, body: bytes) -> Review:
        """Judge one request body and record the decision (never raises)."""
        started = time.perf_counter()
        try:
            req = parse_review(body)
        except MalformedReview as exc:
            review = self._malformed(exc)
        else:
            try:
                review = self._judge(req)
            except MalformedReview as exc:
                review = self._malformed(exc, req)
            except Exception:  # a bug must still get a well-formed answer
                log.exception("admission review %s failed", req.uid)
                review = self._malformed(MalformedReview(
                    "internal error in the webhook (see its log)", req.uid, req.api_version), req)
        decision = replace(review.decision, duration_ms=(time.perf_counter() - started) * 1000)
        self._record(decision)
        return Review(review.response, decision)

    def _record(self, decision: Decision) -> None:
        if self.decision_log is not None:
            self.decision_log.write(decision)
        if self.shipper is not None:
            self.shipper.submit(decision)

    def _decision(self, req: AdmissionRequest | None, uid: str, **kw: Any) -> Decision:
        fields: dict[str, Any] = {"time": _now_text(), "uid": uid, "mode": self.policy.mode,
                                  "policy": self.policy.origin}
        if req is not None:
            meta = req.object.get("metadata") if isinstance(req.object, Mapping) else None
            name = req.name or (str(meta.get("name") or meta.get("generateName") or "")
                                if isinstance(meta, Mapping) else "")
            fields.update(operation=req.operation, kind=req.kind, namespace=req.namespace,
                          name=name, user=req.username, dry_run=req.dry_run)
        return Decision(**{**fields, **kw})

    def _malformed(self, exc: MalformedReview, req: AdmissionRequest | None = None) -> Review:
        audit = self.policy.mode == "audit"
        message = f"stackwarden: malformed AdmissionReview: {exc.reason}"
        decision = self._decision(req, exc.uid, allowed=audit, verdict="deny", note=message)
        response = build_response(exc.uid, audit, message=message, code=400,
                                  warnings=[message + " (allowed: audit mode)"] if audit else (),
                                  api_version=exc.api_version)
        return Review(response, decision)

    def _allow(self, req: AdmissionRequest, note: str) -> Review:
        decision = self._decision(req, req.uid, allowed=True, verdict="allow", note=note)
        return Review(build_response(req.uid, True, api_version=req.api_version), decision)

    def _judge(self, req: AdmissionRequest) -> Review:
        obj = req.object
        if req.operation not in ("CREATE", "UPDATE") or obj is None:
            return self._allow(req, f"{req.operation} is not checked")
        if req.namespace and req.namespace in self.policy.exclude_namespaces:
            return self._allow(req, f"namespace {req.namespace} is excluded by the policy")
        if req.sub_resource not in CHECKED_SUBRESOURCES:
            return self._allow(req, f"subresource {req.sub_resource} is not checked")
        if not is_object(obj):
            raise MalformedReview("request.object is not a Kubernetes object (needs apiVersion "
                                  "and kind)", req.uid, req.api_version)
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
        assert isinstance(meta, Mapping)
        if meta.get("deletionTimestamp"):
            return self._allow(req, "the object is being deleted")
        if req.namespace and not meta.get("namespace"):
            obj = {**obj, "metadata": {**meta, "namespace": req.namespace}}
        reasons = self._misconfig(obj)
        image_reasons, images = self._images(obj)
        reasons += image_reasons
        note = ""
        if req.operation == "UPDATE" and any(r.action == "deny" for r in reasons) and \
                is_object(req.old_object):
            reasons, note = self._grandfather(reasons, req.old_object)
        return self._verdict(req, reasons, images, note)

    def _grandfather(self, reasons: list[Reason], old: Any) -> tuple[list[Reason], str]:
        """On UPDATE, problems the object already had only warn: an annotation, a label or a
        finalizer change must not be refused for what was admitted before; what the update
        brings (a new image, a privileged debug container) is judged in full."""
        before = {(r.code, r.message) for r in self._misconfig(old) + self._images(old)[0]}
        kept = [replace(r, action="warn") if r.action == "deny" and (r.code, r.message) in before
                else r for r in reasons]
        changed = sum(1 for a, b in zip(reasons, kept, strict=True) if a is not b)
        note = f"{changed} problem(s) already present before this update only warn" \
            if changed else ""
        return kept, note

    def _misconfig(self, obj: Mapping[str, Any]) -> list[Reason]:
        rules = self.policy.misconfig
        out = []
        for finding in self.scanner.check_object(obj):
            if finding.id in SUBSUMED_CHECKS or any(fnmatch.fnmatchcase(finding.id, p)
                                                    for p in rules.skip):
                continue
            action = rules.action(finding.severity)
            if action != "allow":
                out.append(Reason(action, "misconfig", finding.id,
                                  str(finding.evidence.get("message") or finding.title),
                                  severity=str(finding.severity)))
        return out

    def _images(self, obj: Mapping[str, Any]) -> tuple[list[Reason], list[dict[str, Any]]]:
        rules = self.policy.images
        reasons: list[Reason] = []
        images: list[dict[str, Any]] = []
        seen: set[str] = set()
        for item in workload_images(obj):
            if item.image in seen:
                continue
            seen.add(item.image)
            ref, found = reference_reasons(item, rules)
            entry: dict[str, Any] = {"image": item.image, "container": item.container}
            if ref is None:
                entry["checked"] = False
            else:
                lookup = self.store.lookup(ref)
                found += scan_reasons(item, lookup.scan, rules, unknown_why=lookup.why)
                scan = lookup.scan
                entry.update({"scanned": scan is not None, "origin": lookup.origin} if scan is None
                             else {"scanned": True, "origin": lookup.origin,
                                   "digest": scan.digest, "scanned_at": scan.scanned_at,
                                   "source": scan.source, "findings": scan.counts})
                if scan is None:
                    entry["why"] = lookup.why
            reasons += found
            images.append(entry)
        return reasons, images

    def _verdict(self, req: AdmissionRequest, reasons: list[Reason],
                 images: list[dict[str, Any]], note: str) -> Review:
        denies = [r for r in reasons if r.action == "deny"]
        warns = [r for r in reasons if r.action == "warn"]
        verdict = "deny" if denies else "warn" if warns else "allow"
        audit = self.policy.mode == "audit"
        allowed = not denies or audit
        shown = f"{req.kind} {object_name(req)}"
        message = ""
        warnings = [f"[{r.code}] {r.message}" for r in warns]
        if denies and not audit:
            more = len(denies) - MAX_REASONS_IN_MESSAGE
            message = clip(f"stackwarden denied {shown}: " + "; ".join(
                f"[{r.code}] {r.message}" for r in denies[:MAX_REASONS_IN_MESSAGE])
                + (f"; and {more} more" if more > 0 else ""), 3000)
        elif denies:
            warnings = [f"audit: would deny: [{r.code}] {r.message}" for r in denies] + warnings
        decision = self._decision(req, req.uid, allowed=allowed, verdict=verdict,
                                  reasons=tuple(reasons), images=tuple(images), note=note)
        response = build_response(req.uid, allowed, message=message, warnings=warnings,
                                  api_version=req.api_version)
        return Review(response, decision)

    def close(self) -> None:
        """Stop background work and close the log."""
        self.store.close()
        if self.shipper is not None:
            self.shipper.close()
        if self.decision_log is not None:
            self.decision_log.close()
