"""A small HCL writer for generated Terraform, and the Terraform plant shape."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.helpers.misconfig import FileKind, Mutation, Plant


class Raw(str):
    """An HCL expression written as is (`aws_kms_key.k.arn`, `var.x`)."""


class Block(dict[str, Any]):
    """A nested block (`versioning { … }`) rather than an object attribute."""


def value(v: Any, indent: int) -> str:
    """One attribute value."""
    pad = "  " * indent
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(value(x, indent) for x in v) + "]"
    if isinstance(v, dict):
        inner = "".join(f"{pad}  {json.dumps(k)} = {value(x, indent + 1)}\n" for k, x in v.items())
        return "{\n" + inner + pad + "}"
    raise TypeError(v)


def body(attrs: dict[str, Any], indent: int = 1) -> str:
    """Attributes and nested blocks."""
    pad = "  " * indent
    out = []
    for key, v in attrs.items():
        if v is None:
            continue
        if isinstance(v, Block):
            out.append(f"{pad}{key} {{\n{body(v, indent + 1)}{pad}}}\n")
        elif isinstance(v, list) and v and all(isinstance(x, Block) for x in v):
            out.extend(f"{pad}{key} {{\n{body(x, indent + 1)}{pad}}}\n" for x in v)
        else:
            out.append(f"{pad}{key} = {value(v, indent)}\n")
    return "".join(out)


def resource(rtype: str, name: str, attrs: dict[str, Any], block: str = "resource") -> str:
    """`resource "type" "name" { … }`."""
    return f'{block} "{rtype}" "{name}" {{\n{body(attrs)}}}\n'


def merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """base with overrides applied (a value of DELETE removes the key)."""
    out = copy.deepcopy(base)
    for key, v in overrides.items():
        if v is DELETE:
            out.pop(key, None)
        else:
            out[key] = copy.deepcopy(v)
    return out


DELETE = object()


def tf_plant(check_id: str, rtype: str, base: Any, bad: dict[str, Any],
             good: dict[str, Any], also: tuple[str, ...] = (), block: str = "resource",
             extra: Any = None) -> Plant:
    """A plant adding one resource (`base` attrs or a function of the name) with overrides;
    `extra(name)` adds companion resources."""
    def make(overrides: dict[str, Any]) -> Mutation:
        def run(model: list[str], n: int) -> str:
            name = f"r{n}"
            attrs = base(name) if callable(base) else base
            model.append(resource(rtype, name, merged(attrs, overrides), block))
            if extra is not None:
                model.append(extra(name))
            prefix = "data." if block == "data" else ""
            return f"{prefix}{rtype}.{name}" if block in ("resource", "data") else \
                f"{block}.{rtype}"
        return run
    return Plant(check_id, "terraform", make(bad), make(good), also=also)


def new() -> list[str]:
    """A clean Terraform file: the AWS provider and a fully configured bucket."""
    from tests.helpers.misconfig.terraform_aws import bucket_unit

    return ['provider "aws" {\n  region = "eu-west-1"\n}\n', bucket_unit("base")]


def render(model: list[str]) -> bytes:
    """The .tf text."""
    return "\n".join(model).encode()


KIND = FileKind("terraform", new, render, lambda n: "main.tf", single_model=False)
