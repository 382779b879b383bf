#!/usr/bin/env python3
"""Least privilege, proven from the local cloud's recordings, both ways.

    tools/iam_check.py --calls target/iam/calls --template template.yaml --report target/iam/report.json [--strict-unused]
    tools/iam_check.py --self-test     # the checker's own tests (no cloud; ~10 s, each tiny template is rendered by SAM)

1. Every request a function made is allowed by that function's own policy as template.yaml renders it
   for the local parameters (cloud.json). A denied call names function, IAM action, resource and test,
   and fails the run (exit 1), as do requests that cannot be attributed or mapped to an IAM action.
2. Every grant is used: each (statement, action pattern, resource pattern) that no recorded call
   exercised is reported as unused, unless the function's `Metadata: IamUnused` waives it with a Reason.
   Unused grants fail the run only with --strict-unused; a waiver that covers no grant always fails it.

The request → (action, resource, condition keys) mapping is data: botocore's service models name the
operation and its parameters, policy_sentry's IAM database (the Service Authorization Reference) names
the action (each privilege's API documentation link), its resource types and their ARN formats. The
few facts neither holds are the commented tables below. The policy evaluator is this file's own (see
`evaluate`): moto's `moto.iam.access_control` ignores most resources and conditions, and treats a
failed condition as an explicit deny, so it cannot prove least privilege.

A grant no local test can reach is waived in the function's (or assumed role's) resource:

    Metadata:
      IamUnused:
        - {Action: kms:Decrypt, Resource: !GetAtt RecordingKey.Arn, Reason: S3 calls KMS for it (SSE-KMS)}

Action and Resource are patterns (`*`, `?`) matched against the grant's action and rendered resource.

Report: --report gets the JSON, report.txt beside it a readable copy; stdout a short summary.
Inputs: --calls DIR holds one directory per local cloud with cloud.json, moto.jsonl, emulator.jsonl.
Python 3.11 in the project's .venv (botocore, policy_sentry, SAM CLI for tools/render_template.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
try:
    import botocore.session  # noqa: F401
    import policy_sentry  # noqa: F401
except ImportError:  # run by a bare python3: use the project's virtualenv, which has both
    VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
    if VENV_PYTHON.exists() and Path(sys.prefix).resolve() != VENV_PYTHON.parent.parent.resolve():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), __file__, *sys.argv[1:]])
    raise

import argparse
import base64
import dataclasses
import datetime
import functools
import ipaddress
import itertools
import json
import re
import subprocess
import tempfile
import unittest
import urllib.parse
import xml.etree.ElementTree as ET
from collections import defaultdict

HARNESS_ACCESS_KEY = "testing"  # the test harness's own requests: counted, never checked
# The emulator's own requests to moto (it asks STS whose key a request carries) carry this header:
# they are the stand-in's, not the function's whose key they name (crates/switchboard-local/src/call_log.rs).
LOCAL_ORIGIN_HEADER = "x-switchboard-local-origin"

# ------------------------------------------------------------------------------------------ tables
# Signing names whose botocore service has another name (tried in order; the others are the same name).
BOTOCORE_SERVICES = {"chime": ("chime-sdk-meetings", "chime"), "mobiletargeting": ("pinpoint",)}

# Operation → IAM action where the IAM database has neither a documentation link to the operation nor
# a privilege of the operation's name (the Service Authorization Reference lists these under the
# action AWS actually checks; a test proves each entry is needed and names an existing action).
OPERATION_ACTIONS = {
    ("s3", "HeadObject"): "s3:GetObject",  # HEAD needs the GET permission
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",  # the link names ListObjectsV2 only
    ("s3", "CreateMultipartUpload"): "s3:PutObject",  # multipart uploads are authorised as PutObject
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
}

# Operations that AWS authorises item by item: a function(params) → [(action, sub-request params)].
# DynamoDB transactions need each item's own action (there is no TransactWriteItems action); batch
# operations keep their action but are checked per table, with all of that table's keys; S3
# DeleteObjects needs s3:DeleteObject on every key.
def _transact_write(p):
    kinds = {"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem", "Delete": "dynamodb:DeleteItem",
             "ConditionCheck": "dynamodb:ConditionCheckItem"}
    return [(kinds[kind], body) for item in p.get("TransactItems") or [] for kind, body in item.items() if kind in kinds]


def _batch(action, key_of):
    return lambda p: [(action, {"TableName": table, "Keys": [k for r in requests for k in key_of(r)]})
                      for table, requests in (p.get("RequestItems") or {}).items()]


EXPANSIONS = {
    ("dynamodb", "TransactWriteItems"): _transact_write,
    ("dynamodb", "TransactGetItems"): lambda p: [("dynamodb:GetItem", i["Get"]) for i in p.get("TransactItems") or [] if "Get" in i],
    ("dynamodb", "BatchGetItem"): _batch("dynamodb:BatchGetItem", lambda r: r.get("Keys") or []),
    ("dynamodb", "BatchWriteItem"): _batch("dynamodb:BatchWriteItem", lambda r: [
        x for x in ((r.get("PutRequest") or {}).get("Item"), (r.get("DeleteRequest") or {}).get("Key")) if x]),
    ("s3", "DeleteObjects"): lambda p: [("s3:DeleteObject", {"Bucket": p.get("Bucket"), "Key": o.get("Key")})
                                        for o in _as_list((p.get("Delete") or {}).get("Object"))],
}

# Actions a call needs besides its own (each is among the privilege's `dependent_actions` in the IAM
# database; a test checks that). ECS passes the task definition's task and execution roles (and any
# the request's overrides name) to ecs-tasks.amazonaws.com.
IMPLICIT_ACTIONS = {
    ("ecs", "RunTask"): ("iam:PassRole", "task_definition_roles", "ecs-tasks.amazonaws.com"),
    ("ecs", "StartTask"): ("iam:PassRole", "task_definition_roles", "ecs-tasks.amazonaws.com"),
}

# ARN variables whose request parameter has another name (matching is case-insensitive; `XName`/`XId`
# are also filled from a parameter `X`/`Xs`, and from `Name`/`Id` when X is the resource type).
VARIABLE_ALIASES = {
    "BucketName": ("Bucket",), "ObjectName": ("Key",), "AppId": ("ApplicationId",),
    "ContactId": ("InitialContactId",),  # Connect's contact attribute operations
}


def _task_definition(params, part):
    value = params.get("taskDefinition")
    if not isinstance(value, str):
        return None
    family, _, revision = value.rsplit("/", 1)[-1].partition(":")
    # No revision: ECS runs the latest, unknown here, so only a grant on every revision allows it.
    return [family] if part == 0 else [revision or "*"]


DERIVED_VARIABLES = {  # variables computed from a parameter
    "ParameterNameWithoutLeadingSlash": lambda p: [p["Name"].lstrip("/")] if isinstance(p.get("Name"), str) else None,
    "TaskDefinitionFamilyName": lambda p: _task_definition(p, 0),
    "TaskDefinitionRevisionNumber": lambda p: _task_definition(p, 1),
}

# Resources the IAM database gets wrong. Connect checks GetFederationToken against the federated user,
# `instance/<id>/user/<IAM session name>` (Connect Administrator Guide, "Configure SAML with IAM": the
# role's policy grants `.../user/${aws:userid}`); the database lists the bare instance.
RESOURCE_OVERRIDES = {
    "connect:GetFederationToken": "arn:${Partition}:connect:${Region}:${Account}:instance/${InstanceId}/user/${RoleSessionName}",
}

# A secret named by name is checked against its full ARN, which ends in `-` and six random characters:
# completed from cloud.json's resources when exactly one of them is that name's ARN.
ARN_SUFFIXES = {"secretsmanager": re.compile(r"-[A-Za-z0-9]{6}")}

# Condition keys the checker derives from a request (see Deriver.context).
DERIVED_CONDITION_KEYS = {"dynamodb:leadingkeys", "ecs:cluster", "s3:prefix", "iam:passedtoservice", "sts:rolesessionname",
                          "aws:securetransport", "aws:requestedregion"}
# Condition keys a function's own call never carries (so a statement needing one never applies to it).
ABSENT_CONDITION_KEYS = {
    "kms:viaservice": "set only when an AWS service (S3 with SSE-KMS) calls KMS for the principal",
}

# AWS managed policies a function role may carry: they grant only logs and X-Ray, which the functions'
# code never calls (the Lambda runtime writes the logs), so they are left out of the evaluation.
IGNORED_MANAGED_POLICIES = {"AWSLambdaBasicExecutionRole", "AWSXRayDaemonWriteAccess", "AWSXrayWriteOnlyAccess"}


def _as_list(value):
    return [] if value is None else value if isinstance(value, list) else [value]


# --------------------------------------------------------------------------------------- evaluator
class _Underivable:
    """A condition key AWS would set for the call but the checker cannot compute."""

    def __init__(self, why):
        self.why = why

    def __repr__(self):
        return f"<underivable: {self.why}>"


@functools.lru_cache(maxsize=4096)
def _glob(pattern, ignore_case=False):
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.S | (re.I if ignore_case else 0))


def glob_match(pattern, value, ignore_case=False):
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def _arn_like(value, pattern):
    parts, pats = value.split(":", 5), pattern.split(":", 5)
    return len(parts) == len(pats) == 6 and all(glob_match(p, v) for p, v in zip(pats, parts))


def _num(f):
    def compare(a, b):
        try:
            return f(float(a), float(b))
        except ValueError:
            return False
    return compare


def _date(f):
    def parse(s):
        return datetime.datetime.fromtimestamp(float(s), datetime.timezone.utc) if re.fullmatch(r"\d+(\.\d+)?", s) \
            else datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))

    def compare(a, b):
        try:
            return f(parse(a), parse(b))
        except ValueError:
            return False
    return compare


def _ip(a, b):
    try:
        return ipaddress.ip_address(a) in ipaddress.ip_network(b, strict=False)
    except ValueError:
        return False


# Condition operators (IAM User Guide, "Condition operators"): name → (negated, value matches policy value).
_POSITIVE = {
    "StringEquals": lambda a, b: a == b,
    "StringEqualsIgnoreCase": lambda a, b: a.lower() == b.lower(),
    "StringLike": lambda a, b: glob_match(b, a),
    "NumericEquals": _num(lambda a, b: a == b), "NumericLessThan": _num(lambda a, b: a < b),
    "NumericLessThanEquals": _num(lambda a, b: a <= b), "NumericGreaterThan": _num(lambda a, b: a > b),
    "NumericGreaterThanEquals": _num(lambda a, b: a >= b),
    "DateEquals": _date(lambda a, b: a == b), "DateLessThan": _date(lambda a, b: a < b),
    "DateLessThanEquals": _date(lambda a, b: a <= b), "DateGreaterThan": _date(lambda a, b: a > b),
    "DateGreaterThanEquals": _date(lambda a, b: a >= b),
    "Bool": lambda a, b: a.lower() == b.lower(),
    "BinaryEquals": lambda a, b: a == b,
    "IpAddress": _ip,
    "ArnEquals": _arn_like, "ArnLike": _arn_like,  # both compare the six ARN parts, with wildcards
}
OPERATORS = {name: (False, f) for name, f in _POSITIVE.items()}
OPERATORS.update({
    "StringNotEquals": (True, _POSITIVE["StringEquals"]),
    "StringNotEqualsIgnoreCase": (True, _POSITIVE["StringEqualsIgnoreCase"]),
    "StringNotLike": (True, _POSITIVE["StringLike"]),
    "NumericNotEquals": (True, _POSITIVE["NumericEquals"]), "DateNotEquals": (True, _POSITIVE["DateEquals"]),
    "NotIpAddress": (True, _ip), "ArnNotEquals": (True, _arn_like), "ArnNotLike": (True, _arn_like),
})


class PolicyError(Exception):
    pass


def _str(v):
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def condition_holds(operator, key, policy_values, context):
    """One condition (operator, key, values) against the request context {lower-case key: [values]}.
    Returns True/False, or an _Underivable when the key's value is unknown."""
    set_op, _, op = operator.rpartition(":")
    if set_op not in ("", "ForAllValues", "ForAnyValue"):
        raise PolicyError(f"unknown condition set operator {set_op}")
    if_exists = op.endswith("IfExists") and op != "IfExists"
    op = op[: -len("IfExists")] if if_exists else op
    values = [_str(v) for v in _as_list(policy_values)]
    actual = context.get(key.lower())
    if isinstance(actual, _Underivable):
        return actual
    present = actual is not None and (actual != [] or not set_op)
    if op == "Null":  # "true": the key is absent; "false": it is present
        return any((v.lower() == "true") == (actual is None) for v in values)
    if op not in OPERATORS:
        raise PolicyError(f"unknown condition operator {operator}")
    negated, matches = OPERATORS[op]
    if not present:
        if if_exists or set_op == "ForAllValues":
            return True  # ForAllValues over no values is vacuously true
        if set_op == "ForAnyValue":
            return False
        return negated  # a missing key matches nothing: only the negated operators hold

    def one(a):  # one request value against the policy's values: any matches (negated: none)
        hit = any(matches(a, b) for b in values)
        return not hit if negated else hit
    if set_op == "ForAllValues":
        return all(one(a) for a in actual)
    if set_op == "ForAnyValue":
        return any(one(a) for a in actual)
    # A single-valued operator on several request values holds if any value matches (negated: none).
    return all(one(a) for a in actual) if negated else any(one(a) for a in actual)


@dataclasses.dataclass
class Statement:
    principal: str
    label: str  # "<policy>/<Sid or #index>"
    sid: str | None
    index: tuple
    effect: str
    actions: list  # patterns (NotAction: negated)
    not_action: bool
    resources: list  # [(index, pattern or None, unresolvable reason or None, source)]
    not_resource: bool
    condition: dict
    deployed: bool = True
    unresolvable: str | None = None  # the whole statement (its Action or Condition) cannot be resolved

    def action_matches(self, action):
        hit = any(glob_match(p, action, ignore_case=True) for p in self.actions)
        return hit != self.not_action

    def matching_resources(self, resource):
        hits = [r for r in self.resources if r[1] is not None and glob_match(r[1], resource)]
        if self.not_resource:
            return [] if hits else [r for r in self.resources if r[1] is not None]
        return hits

    def condition_result(self, context):
        """(holds, why not): holds is True/False; an underivable key makes an Allow not apply and a
        Deny apply (the conservative reading each way)."""
        for operator, keys in (self.condition or {}).items():
            for key, values in (keys or {}).items():
                result = condition_holds(operator, key, values, context)
                if isinstance(result, _Underivable):
                    if self.effect == "Allow":
                        return False, f"{operator} {key}: cannot derive it ({result.why})"
                    continue
                if not result:
                    got = context.get(key.lower())
                    return False, f"{operator} {key} {json.dumps(values)} does not hold for {json.dumps(got)}"
        return True, None


@dataclasses.dataclass
class Decision:
    allowed: bool
    allowing: list  # [(statement, [resource entries])]
    reason: str


def evaluate(statements, action, resource, context):
    """IAM's identity-policy evaluation: an explicit Deny wins, then any Allow, else deny by default."""
    allowing, near, denies = [], [], []
    for s in statements:
        if not s.action_matches(action):
            continue
        if not s.deployed or s.unresolvable:
            near.append(f"{s.label} " + (f"is unresolvable ({s.unresolvable})" if s.unresolvable else "is not deployed locally"))
            continue
        hits = s.matching_resources(resource)
        if not hits:
            near.append(f"{s.label} grants {action} only on {[r[1] or '<unresolvable>' for r in s.resources]}")
            continue
        holds, why = s.condition_result(context)
        if not holds:
            near.append(f"{s.label}: {why}")
        elif s.effect == "Deny":
            denies.append(s)
        else:
            allowing.append((s, hits))
    if denies:
        return Decision(False, [], f"explicitly denied by {', '.join(s.label for s in denies)}")
    if allowing:
        return Decision(True, allowing, "")
    return Decision(False, [], "; ".join(near) if near else f"no statement grants {action}")


# ------------------------------------------------------------------------------- template rendering
class Unresolvable(Exception):
    pass


NOVALUE = object()
PSEUDO = ("AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::StackName", "AWS::URLSuffix", "AWS::NoValue")


def load_template(path):
    """The template with its Fn::ForEach loops expanded, as tools/render_template.py prints it."""
    return json.loads(_render_template(Path(path).read_text(encoding="utf-8"), str(path)))


@functools.lru_cache(maxsize=16)
def _render_template(text, path):
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "render_template.py"), str(path)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"iam_check: tools/render_template.py {path} failed:\n{out.stderr}")
    return out.stdout


class Renderer:
    """Resolves a template's intrinsics against one local cloud (its parameters and resources)."""

    def __init__(self, template, cloud):
        self.t, self.cloud = template, cloud
        self.resources = template.get("Resources") or {}
        self.params = {}
        for name, decl in (template.get("Parameters") or {}).items():
            value = cloud.parameters.get(name, decl.get("Default"))
            if value is None:
                continue
            listy = decl.get("Type", "") == "CommaDelimitedList" or decl.get("Type", "").startswith("List<")
            self.params[name] = ([str(v) for v in value] if isinstance(value, list) else str(value).split(",")) \
                if listy else _str(value)
        self._conditions = {}

    def pseudo(self, name):
        return {"AWS::Region": self.cloud.region, "AWS::AccountId": self.cloud.account, "AWS::Partition": self.cloud.partition,
                "AWS::StackName": self.cloud.parameters.get("AWS::StackName", "switchboard-local"),
                "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": NOVALUE}[name]

    def condition(self, name):
        if name not in self._conditions:
            decl = (self.t.get("Conditions") or {}).get(name)
            if decl is None:
                raise PolicyError(f"unknown condition {name}")
            self._conditions[name] = bool(self.resolve(decl))
        return self._conditions[name]

    def _resource(self, name, attr):
        decl = self.resources.get(name)
        if decl is None:
            raise PolicyError(f"{name} is neither a parameter nor a resource of the template")
        if decl.get("Condition") and not self.condition(decl["Condition"]):
            raise Unresolvable(f"{name} is not deployed locally (Condition {decl['Condition']} is false)")
        value = (self.cloud.resources.get(name) or {}).get(attr)
        if value is None:
            raise Unresolvable(f"cloud.json has no resources.{name}.{attr}")
        return value

    def ref(self, name):
        if name in PSEUDO:
            return self.pseudo(name)
        if name in self.params:
            return self.params[name]
        if name in (self.t.get("Parameters") or {}):
            raise Unresolvable(f"parameter {name} has no Default and cloud.json gives it no value")
        return self._resource(name, "Ref")

    def resolve(self, node):
        if isinstance(node, list):
            return [v for v in (self.resolve(x) for x in node) if v is not NOVALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._fn(key, arg)
        out = {}
        for k, v in node.items():
            v = self.resolve(v)
            if v is not NOVALUE:
                out[k] = v
        return out

    def _fn(self, key, arg):
        if key == "Fn::GetAtt":
            name, attr = arg.split(".", 1) if isinstance(arg, str) else arg
            return self._resource(name, self.resolve(attr))
        if key == "Fn::If":
            return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
        if key == "Fn::Equals":
            a, b = self.resolve(arg)
            return _str(a) == _str(b) if not isinstance(a, list) else a == b
        if key == "Fn::Not":
            return not self.resolve(arg[0])
        if key == "Fn::And":
            return all(self.resolve(arg))
        if key == "Fn::Or":
            return any(self.resolve(arg))
        if key == "Fn::Join":
            return arg[0].join(_str(v) for v in _as_list(self.resolve(arg[1])))
        if key == "Fn::Select":
            return self.resolve(arg[1])[int(self.resolve(arg[0]))]
        if key == "Fn::Split":
            return self.resolve(arg[1]).split(arg[0])
        if key == "Fn::FindInMap":
            m, k1, k2 = (self.resolve(a) for a in arg[:3])
            return self.t["Mappings"][m][k1][k2]
        if key == "Fn::Base64":
            return base64.b64encode(self.resolve(arg).encode()).decode()
        if key == "Fn::Length":
            return len(self.resolve(arg))
        if key == "Fn::ToJsonString":
            return json.dumps(self.resolve(arg), separators=(",", ":"))
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

            def sub(m):
                name = m.group(1)
                if name.startswith("!"):
                    return "${" + name[1:] + "}"
                if name in variables:
                    return _str(variables[name])
                if "." in name and name not in self.params:
                    return _str(self._resource(*name.split(".", 1)))
                return _str(self.ref(name))
            return re.sub(r"\$\{([^}]*)\}", sub, text)
        raise Unresolvable(f"{key} cannot be resolved locally")


def show(node):
    """A template expression as written, for the report."""
    if isinstance(node, dict) and len(node) == 1:
        (k, v), = node.items()
        if k == "Ref":
            return f"!Ref {v}"
        if k == "Fn::GetAtt":
            return "!GetAtt " + (v if isinstance(v, str) else ".".join(map(str, v)))
        if k == "Fn::Sub":
            return "!Sub " + (v if isinstance(v, str) else f"[{v[0]}, ...]")
        if k == "Fn::If":
            return f"!If [{v[0]}, {show(v[1])}, {show(v[2])}]"
    return node if isinstance(node, str) else json.dumps(node)


def _sam_policy_template(name, args):
    try:
        import samtranslator
    except ImportError as e:
        raise PolicyError(f"SAM policy template {name}: samtranslator is not installed") from e
    data = json.loads((Path(samtranslator.__file__).parent / "policy_templates_data" / "policy_templates.json").read_text())
    decl = data["Templates"].get(name)
    if decl is None:
        raise PolicyError(f"{name} is neither an inline policy nor a SAM policy template")
    args = args or {}
    missing = set(decl.get("Parameters") or {}) - set(args)
    if missing:
        raise PolicyError(f"SAM policy template {name} lacks {sorted(missing)}")

    def put(node):
        if isinstance(node, list):
            return [put(x) for x in node]
        if isinstance(node, dict):
            if list(node) == ["Ref"] and node["Ref"] in args:
                return args[node["Ref"]]
            return {k: put(v) for k, v in node.items()}
        return node
    return put(decl["Definition"])


def _managed_policy_name(arn):
    return str(arn).rsplit("/", 1)[-1]


def policies_of(template, logical_id):
    """[(policy label, raw policy document)] of a function (its Policies, or its Role's) or a role."""
    decl = template["Resources"][logical_id]
    props = decl.get("Properties") or {}
    if decl["Type"] == "AWS::IAM::Role":
        for arn in props.get("ManagedPolicyArns") or []:
            text = arn.get("Fn::Sub", "") if isinstance(arn, dict) else arn
            if not isinstance(text, str) or _managed_policy_name(text) not in IGNORED_MANAGED_POLICIES:
                raise PolicyError(f"{logical_id}: managed policy {show(arn)} is not one the checker can ignore")
        return [(p.get("PolicyName", f"Policies[{i}]"), p.get("PolicyDocument") or {}) for i, p in enumerate(props.get("Policies") or [])]
    if "Role" in props:
        role = props["Role"]
        target = (role.get("Fn::GetAtt") if isinstance(role, dict) else None) or (role.get("Ref") if isinstance(role, dict) else None)
        target = target.split(".")[0] if isinstance(target, str) else target[0] if isinstance(target, list) else None
        if target not in template["Resources"] or template["Resources"][target]["Type"] != "AWS::IAM::Role":
            raise PolicyError(f"{logical_id}: Role {show(role)} is not a role of the template")
        return policies_of(template, target)
    globals_ = ((template.get("Globals") or {}).get("Function") or {}).get("Policies") or []
    out = []
    for i, item in enumerate(_as_list(globals_) + _as_list(props.get("Policies"))):
        if isinstance(item, str):
            if _managed_policy_name(item) not in IGNORED_MANAGED_POLICIES:
                raise PolicyError(f"{logical_id}: managed policy {item} is not one the checker can ignore")
        elif isinstance(item, dict) and "Statement" in item:
            out.append((f"Policies[{i}]", item))
        elif isinstance(item, dict) and len(item) == 1:
            (name, args), = item.items()
            if name.startswith("Fn::"):
                raise PolicyError(f"{logical_id}: Policies[{i}] is an intrinsic ({name}); the checker cannot expand it")
            out.append((f"Policies[{i}]:{name}", _sam_policy_template(name, args)))
        else:
            raise PolicyError(f"{logical_id}: Policies[{i}] is not a policy the checker can read")
    return out


def render_statements(renderer, principal, logical_id, deployed=True):
    """The principal's statements for one cloud, each Resource entry resolved on its own."""
    out = []
    for p_index, (policy, doc) in enumerate(policies_of(renderer.t, logical_id)):
        for s_index, raw in enumerate(_as_list(doc.get("Statement"))):
            on = deployed
            while isinstance(raw, dict) and list(raw) == ["Fn::If"]:  # a statement only some stacks have
                cond, yes, no = raw["Fn::If"]
                try:
                    chosen = renderer.condition(cond)
                except Unresolvable:
                    chosen = False
                if isinstance(no, dict) and no.get("Ref") == "AWS::NoValue":
                    raw, on = yes, on and chosen
                elif isinstance(yes, dict) and yes.get("Ref") == "AWS::NoValue":
                    raw, on = no, on and not chosen
                else:
                    raw = yes if chosen else no
            sid = raw.get("Sid")
            label = f"{policy}/{sid or '#%d' % s_index}"
            s = Statement(principal, label, sid, (p_index, s_index), raw.get("Effect", "Allow"), [], "NotAction" in raw, [],
                          "NotResource" in raw, {}, deployed=on)
            try:
                s.actions = [str(a) for a in _as_list(renderer.resolve(raw.get("NotAction", raw.get("Action"))))]
                s.condition = renderer.resolve(raw.get("Condition") or {})
            except Unresolvable as e:
                s.unresolvable = str(e)
                s.actions = [show(a) for a in _as_list(raw.get("NotAction", raw.get("Action")))]
            for r_index, item in enumerate(_as_list(raw.get("NotResource", raw.get("Resource")))):
                try:
                    values = _as_list(renderer.resolve(item))
                    s.resources += [((r_index, j), str(v), None, show(item)) for j, v in enumerate(values) if v is not NOVALUE]
                except Unresolvable as e:
                    s.resources.append(((r_index, 0), None, str(e), show(item)))
            out.append(s)
    return out


# --------------------------------------------------------------------------------- request parsing
@dataclasses.dataclass
class Request:
    method: str
    path: str  # raw (percent-encoded)
    query: dict  # name → [values]
    headers: dict  # lower-case name → value
    body: bytes
    source: str

    @classmethod
    def from_record(cls, record, source):
        url = urllib.parse.urlsplit(record.get("url", ""))
        body = record.get("body") or ""
        body = base64.b64decode(body) if record.get("body_encoded") else body.encode("utf-8")
        return cls(record.get("method", "GET").upper(), url.path or "/", urllib.parse.parse_qs(url.query, keep_blank_values=True),
                   {k.lower(): str(v) for k, v in (record.get("headers") or {}).items()}, body, source)

    def signature(self):
        """(access key id, region, signing name) from SigV4 (header or presigned URL), or None."""
        m = re.search(r"Credential=([^,\s]+)", self.headers.get("authorization", ""))
        credential = m.group(1) if m else (self.query.get("X-Amz-Credential") or [None])[0]
        if not credential:
            return None
        parts = credential.split("/")
        return (parts[0], parts[2], parts[3]) if len(parts) >= 5 else None


@dataclasses.dataclass
class Operation:
    iam_prefix: str
    service: str  # botocore name
    name: str
    params: dict
    input_members: tuple


class UnmappedRequest(Exception):
    pass


def _xml_to_dict(element):
    children = list(element)
    if not children:
        return element.text or ""
    out = {}
    for child in children:
        tag = child.tag.rsplit("}", 1)[-1]
        value = _xml_to_dict(child)
        if tag in out:
            out[tag] = _as_list(out[tag]) + [value]
        else:
            out[tag] = value
    return out


class Services:
    """botocore's service models: which operation a recorded request is, and its parameters."""

    def __init__(self):
        self.session = botocore.session.get_session()
        self._models, self._routes, self._by_signing = {}, {}, None

    def model(self, name):
        if name not in self._models:
            try:
                self._models[name] = self.session.get_service_model(name)
            except Exception:  # UnknownServiceError and friends
                self._models[name] = None
        return self._models[name]

    def candidates(self, signing_name):
        names = [n for n in BOTOCORE_SERVICES.get(signing_name, (signing_name,)) if self.model(n)]
        if names:
            return names
        if self._by_signing is None:  # rare: scan every model once for its signing name
            self._by_signing = defaultdict(list)
            for n in self.session.get_available_services():
                self._by_signing[self.model(n).signing_name].append(n)
        return self._by_signing.get(signing_name, [])

    def routes(self, name):
        if name not in self._routes:
            routes = []
            model = self.model(name)
            for op_name in model.operation_names:
                http = model.operation_model(op_name).http
                uri = http.get("requestUri", "/")
                path, _, q = uri.partition("?")
                regex, literal = "", 0
                for token in re.split(r"(\{[^}]+\})", path):
                    if token.startswith("{"):
                        label = token[1:-1]
                        greedy = label.endswith("+")
                        regex += f"(?P<{re.sub(r'[^A-Za-z0-9_]', '_', label.rstrip('+'))}>{'.+' if greedy else '[^/]+'})"
                    else:
                        regex += re.escape(token)
                        literal += len(token)
                required_query = [tuple(kv.split("=", 1)) if "=" in kv else (kv, None) for kv in q.split("&") if kv]
                routes.append((http.get("method", "POST"), re.compile(regex + "/?"), required_query, literal + len(q), op_name))
            self._routes[name] = routes
        return self._routes[name]

    def identify(self, req, signing_name):
        target = req.headers.get("x-amz-target")
        form = None
        if not target and req.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = urllib.parse.parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True)
        best = None
        for name in self.candidates(signing_name):
            model = self.model(name)
            if target:
                prefix, _, op = target.rpartition(".")
                if op in model.operation_names and (model.metadata.get("targetPrefix") in (None, prefix)):
                    return self._params(model, op, req, {}, "json")
                continue
            action = ((form or {}).get("Action") or req.query.get("Action") or [None])[0]
            if action and model.protocol in ("query", "ec2"):
                if action in model.operation_names:
                    return self._params(model, action, req, {**req.query, **(form or {})}, "query")
                continue
            rpc = re.fullmatch(r"/service/[^/]+/operation/([^/]+)", req.path)
            if rpc and rpc.group(1) in model.operation_names:  # smithy rpc-v2-cbor: the body is not decoded
                return Operation(self.iam_prefix(model), name, rpc.group(1), {}, ())
            path = req.path
            host = req.headers.get("host", "").split(":")[0]
            if model.signing_name == "s3" and not re.fullmatch(r"[\d.]+|localhost|\[.*\]", host) and "." in host \
                    and not host.startswith("s3.") and not host.startswith("s3-"):
                bucket = re.split(r"\.s3[.-]", host)[0] if re.search(r"\.s3[.-]", host) else host.split(".")[0]
                path = "/" + bucket + path  # virtual-hosted style: the bucket is in the Host
            for method, regex, required_query, literal, op in self.routes(name):
                m = regex.fullmatch(path)
                if method != req.method or not m:
                    continue
                if any(k not in req.query or (v is not None and v not in req.query[k]) for k, v in required_query):
                    continue
                op_model = model.operation_model(op)
                shape = op_model.input_shape
                extra, ok = 0, True
                for member_name in (shape.required_members if shape else []):
                    ser = shape.members[member_name].serialization
                    where, loc = ser.get("location"), ser.get("name", member_name)
                    if where == "querystring":
                        ok, extra = ok and loc in req.query, extra + 1
                    elif where == "header":
                        ok, extra = ok and loc.lower() in req.headers, extra + 1
                if ok and (best is None or (literal, extra) > best[0]):
                    best = ((literal, extra), model, op, {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}, path)
        if best:
            return self._params(best[1], best[2], req, best[3], "rest")
        raise UnmappedRequest(f"no {signing_name} operation is {req.method} {req.path}"
                              + (f" (X-Amz-Target {target})" if target else ""))

    @staticmethod
    def iam_prefix(model):
        from policy_sentry.shared.iam_data import iam_definition
        for prefix in (model.signing_name, model.endpoint_prefix):
            if prefix in iam_definition:
                return prefix
        raise UnmappedRequest(f"the IAM database has no service {model.signing_name}")

    def _params(self, model, op, req, found, style):
        shape = model.operation_model(op).input_shape
        members = shape.members if shape else {}
        params = {}
        text = req.body.decode("utf-8", "replace") if req.body else ""
        if style == "json":
            params = json.loads(text) if text.strip() else {}
        elif style == "query":
            params = {k: v[0] if len(v) == 1 else v for k, v in found.items() if k in members}
        else:
            labels = {re.sub(r"[^A-Za-z0-9_]", "_", k): v for k, v in found.items()}
            payload = shape.serialization.get("payload") if shape else None
            body = {}
            if text.strip() and (payload is None or members[payload].type_name == "structure"):
                if model.protocol == "rest-xml":
                    try:
                        body = _xml_to_dict(ET.fromstring(text))
                    except ET.ParseError:
                        body = {}
                else:
                    try:
                        body = json.loads(text)
                    except ValueError:
                        body = {}
            for name, member in members.items():
                ser = member.serialization
                where, loc = ser.get("location"), ser.get("name", name)
                if where == "uri" and re.sub(r"[^A-Za-z0-9_]", "_", loc) in labels:
                    params[name] = labels[re.sub(r"[^A-Za-z0-9_]", "_", loc)]
                elif where == "querystring" and loc in req.query:
                    v = req.query[loc]
                    params[name] = v if member.type_name == "list" else v[0]
                elif where == "header" and loc.lower() in req.headers:
                    params[name] = req.headers[loc.lower()]
                elif where is None and name == payload:
                    params[name] = body
                elif where is None and payload is None and isinstance(body, dict) and loc in body:
                    params[name] = body[loc]
        return Operation(self.iam_prefix(model), model.service_name, op, params if isinstance(params, dict) else {}, tuple(members))


# --------------------------------------------------------------------------------- IAM derivation
class IamData:
    """policy_sentry's IAM database: operation → action, action → resource ARN formats and keys."""

    LINK = re.compile(r"API_(?:[A-Za-z0-9-]+_)?([A-Za-z0-9]+)\.html|#([A-Za-z0-9]+)$")

    def __init__(self):
        from policy_sentry.shared.iam_data import iam_definition
        self.defn = iam_definition
        self._links = {}

    def linked(self, prefix):
        if prefix not in self._links:
            links = defaultdict(list)
            for name, p in (self.defn.get(prefix) or {}).get("privileges", {}).items():
                m = self.LINK.search(p.get("api_documentation_link") or "")
                if m:
                    links[m.group(1) or m.group(2)].append(name)
            self._links[prefix] = links
        return self._links[prefix]

    def privilege(self, action):
        prefix, _, name = action.partition(":")
        service = self.defn.get(prefix) or {}
        name = (service.get("privileges_lower_name") or {}).get(name.lower(), name)
        return (service.get("privileges") or {}).get(name)

    def action_for(self, prefix, operation, use_table=True):
        if use_table and (prefix, operation) in OPERATION_ACTIONS:
            return OPERATION_ACTIONS[(prefix, operation)]
        linked = self.linked(prefix).get(operation, [])
        if operation in linked or (not linked and self.privilege(f"{prefix}:{operation}")):
            return f"{prefix}:{operation}"
        if len(linked) == 1:
            return f"{prefix}:{linked[0]}"
        if linked:
            raise UnmappedRequest(f"{prefix} {operation} is documented under several actions: {linked}")
        raise UnmappedRequest(f"no IAM action authorises {prefix} {operation}")

    def condition_keys(self, action):
        p = self.privilege(action) or {}
        return {k.lower() for t in (p.get("resource_types") or {}).values() for k in t.get("condition_keys") or []}

    def arn_format(self, prefix, rtype):
        return ((self.defn.get(prefix) or {}).get("resources") or {}).get(rtype, {}).get("arn")


@dataclasses.dataclass
class Check:
    action: str
    resource: str
    context: dict
    operation: str
    note: str | None = None  # why the resource is unknown (then it is "*")


def _scalar(av):
    """A DynamoDB AttributeValue's scalar ({"S": "x"} → "x")."""
    if isinstance(av, dict) and len(av) == 1:
        (t, v), = av.items()
        if t in ("S", "N", "B"):
            return str(v)
    return None


class Deriver:
    """A recorded operation → the checks AWS would make: action, resource, condition context."""

    def __init__(self, iam):
        self.iam = iam

    def checks(self, op, cloud, region, renderer, session_names=()):
        label = f"{op.service}.{op.name}"
        expand = EXPANSIONS.get((op.iam_prefix, op.name))
        if expand:
            subs = [(a, p) for a, p in expand(op.params) if isinstance(p, dict)]
        else:
            subs = [(self.iam.action_for(op.iam_prefix, op.name), op.params)]
        out = []
        for action, params in subs:
            if action == "connect:GetFederationToken":  # the user is the assumed role's session name; with
                # several sessions in one cloud the key does not tell which, so each is checked
                params = {**params, "RoleSessionName": list(session_names) or None}
            context = self.context(action, op, params, cloud, region, renderer)
            for resource, note in self.resources(action, op.name, params, cloud, region):
                out.append(Check(action, resource, context, label, note))
        implicit = IMPLICIT_ACTIONS.get((op.iam_prefix, op.name))
        if implicit:
            action, how, service = implicit
            ctx = {"iam:passedtoservice": [service], "aws:securetransport": ["true"]}
            roles, note = getattr(self, how)(op.params, renderer)
            out += [Check(action, r, ctx, label + " (implicit)") for r in roles]
            if note:
                out.append(Check(action, "*", ctx, label + " (implicit)", note))
        return out

    # -- resources
    def resources(self, action, operation, params, cloud, region):
        prefix = action.split(":")[0]
        env = {"Partition": cloud.partition, "Region": region, "Account": cloud.account, "AccountId": cloud.account}
        if action in RESOURCE_OVERRIDES:
            got, missing = self.fill(RESOURCE_OVERRIDES[action], params, env, "")
            return [(r, None) for r in got] if got else [("*", f"{action} needs {missing}, which the request does not give")]
        priv = self.iam.privilege(action) or {}
        types = priv.get("resource_types") or {}
        required = [t for t, i in types.items() if t and i.get("required")]
        optional = [t for t, i in types.items() if t and not i.get("required")]
        filled, gaps = {}, []
        for rtype in required + optional:
            fmt = self.iam.arn_format(prefix, rtype)
            if not fmt:
                continue
            got, missing = self.fill(fmt, params, env, rtype, creates=operation.startswith("Create"))
            if got:
                filled[rtype] = got
            elif rtype in required:
                gaps.append(f"{rtype} ({missing})")
        # the required types, else the most specific optional one (most literal characters in its format)
        chosen = [t for t in required if t in filled] or sorted(
            (t for t in optional if t in filled), key=lambda t: -len(re.sub(r"\$\{[^}]+\}", "", self.iam.arn_format(prefix, t))))[:1]
        out = []
        for rtype in chosen:
            arns = filled[rtype]
            for other in optional:  # a more specific ARN of the same resource (a table's index)
                if other in filled and other not in chosen and all(any(s.startswith(a + "/") for s in filled[other]) for a in arns):
                    arns = filled[other]
            out += [(self.complete(prefix, a, cloud), None) for a in arns]
        if not out and not required and ("" in types or not types):
            return [("*", None)]  # the action has no resource (or none the request names): "*"
        if gaps or not out:  # a resource AWS checks that the request does not name: only "*" covers it
            out.append(("*", f"the request names no {', '.join(gaps) or ' or '.join(optional)}"))
        return out

    def fill(self, fmt, params, env, rtype, creates=False):
        variables = re.findall(r"\$\{([^}]+)\}", fmt)
        # a variable is one path segment, except the last, which may hold "/" (an object key, a role path)
        pieces = re.split(r"\$\{[^}]+\}", fmt)
        pattern = re.compile("".join(re.escape(p) + ("" if i == len(pieces) - 1 else "[^/]+" if i < len(pieces) - 2 else ".+")
                                     for i, p in enumerate(pieces)))
        for value in params.values():  # a parameter that already is such an ARN is used as is
            values = _as_list(value)
            if values and all(isinstance(v, str) and v.startswith("arn:") and pattern.fullmatch(v) for v in values):
                return values, None
        found = {}
        for i, var in enumerate(variables):
            if var in env:
                found[var] = [env[var]]
                continue
            got = self.variable(var, rtype, params)
            if got is None and creates and i == len(variables) - 1:
                got = ["*"]  # the id a Create makes: only a grant on every id allows it
            if got is None:
                return None, "${%s}" % var
            found[var] = got
        names = list(found)
        out = []
        for combo in itertools.product(*(found[n] for n in names)):
            text = fmt
            for n, v in zip(names, combo):
                text = text.replace("${%s}" % n, v)
            out.append(text)
        return out, None

    @staticmethod
    def variable(var, rtype, params):
        if var in DERIVED_VARIABLES:
            return DERIVED_VARIABLES[var](params)
        lower = {k.lower(): v for k, v in params.items()}
        names = [var, *VARIABLE_ALIASES.get(var, ())]
        m = re.fullmatch(r"(.+?)(Name|Id)", var)
        if m:
            names += [m.group(1), m.group(1) + "s"]
            if m.group(1).lower() == rtype.replace("-", "").lower():
                names.append(m.group(2))
        for name in names:
            values = _as_list(lower.get(name.lower()))
            if values and all(isinstance(v, (str, int)) and str(v) for v in values):
                # an ARN given for one of its parts: its last part ("cluster/name" → name)
                return [re.split(r"[/:]", str(v))[-1] if str(v).startswith("arn:") else str(v) for v in values]
        return None

    @staticmethod
    def complete(prefix, arn, cloud):
        suffix = ARN_SUFFIXES.get(prefix)
        if suffix:
            known = [v for attrs in cloud.resources.values() for v in attrs.values()
                     if isinstance(v, str) and v.startswith(arn) and suffix.fullmatch(v[len(arn):])]
            if len(known) == 1:
                return known[0]
        return arn

    def task_definition_roles(self, params, renderer):
        family = (_task_definition(params, 0) or [None])[0]
        roles, found = [], False
        for name, decl in renderer.resources.items():
            if decl.get("Type") != "AWS::ECS::TaskDefinition":
                continue
            props = decl.get("Properties") or {}
            try:
                if renderer.resolve(props.get("Family")) != family:
                    continue
                found = True
                roles += [renderer.resolve(props[k]) for k in ("TaskRoleArn", "ExecutionRoleArn") if k in props]
            except Unresolvable as e:
                return roles, f"the task definition {name}'s roles: {e}"
        overrides = params.get("overrides") or {}
        roles += [overrides[k] for k in ("taskRoleArn", "executionRoleArn") if overrides.get(k)]
        return sorted(set(roles)), None if found else f"no task definition of the template has the family {family}"

    # -- condition keys
    def context(self, action, op, params, cloud, region, renderer):
        supported = self.iam.condition_keys(action)
        ctx = {"aws:securetransport": ["true"], "aws:requestedregion": [region]}  # SDKs use TLS in AWS
        if "dynamodb:leadingkeys" in supported:
            keys = self.leading_keys(params, renderer)
            if keys is not None:
                ctx["dynamodb:leadingkeys"] = keys
        if "ecs:cluster" in supported and "cluster" in op.input_members:
            cluster = params.get("cluster") or "default"  # ECS's default cluster when none is named
            got, _ = self.fill(self.iam.arn_format("ecs", "cluster"), {"cluster": cluster},
                               {"Partition": cloud.partition, "Region": region, "Account": cloud.account}, "cluster")
            ctx["ecs:cluster"] = got
        if "s3:prefix" in supported and isinstance(params.get("Prefix"), str):
            ctx["s3:prefix"] = [params["Prefix"]]
        if "sts:rolesessionname" in supported and isinstance(params.get("RoleSessionName"), str):
            ctx["sts:rolesessionname"] = [params["RoleSessionName"]]
        return ctx

    def leading_keys(self, params, renderer):
        """dynamodb:LeadingKeys: the partition key values the request touches; None when it names no
        key (AWS then sets none), an _Underivable when it does but they cannot be read."""
        table = params.get("TableName")
        items = [params[k] for k in ("Key", "Item") if isinstance(params.get(k), dict)] + _as_list(params.get("Keys"))
        expression = params.get("KeyConditionExpression")
        if not items and not expression:
            return None
        hash_key = self.hash_key(table, params.get("IndexName"), renderer)
        if hash_key is None:
            return _Underivable(f"table {table} is not a table of the template, so its partition key is unknown")
        if expression:
            names = params.get("ExpressionAttributeNames") or {}
            values = params.get("ExpressionAttributeValues") or {}
            for a, b in re.findall(r"([#:]?[\w.]+)\s*=\s*([#:]?[\w.]+)", expression):
                name, value = (a, b) if b.startswith(":") else (b, a)
                if names.get(name, name) == hash_key and value in values and _scalar(values[value]) is not None:
                    return [_scalar(values[value])]
            return _Underivable(f"no `{hash_key} = :value` in KeyConditionExpression {expression!r}")
        keys = [_scalar(item.get(hash_key)) for item in items]
        return keys if None not in keys else _Underivable(f"an item lacks the partition key {hash_key}")

    @staticmethod
    def hash_key(table, index, renderer):
        for name, decl in renderer.resources.items():
            if decl.get("Type") != "AWS::DynamoDB::Table":
                continue
            physical = renderer.cloud.resources.get(name) or {}
            if table not in (physical.get("Ref"), physical.get("Arn")):
                continue
            props = decl.get("Properties") or {}
            schema = props.get("KeySchema") or []
            if index:  # a global index has its own partition key, a local one the table's
                if any(i.get("IndexName") == index for i in props.get("LocalSecondaryIndexes") or []):
                    pass
                else:
                    schema = next((i.get("KeySchema") or [] for i in props.get("GlobalSecondaryIndexes") or []
                                   if i.get("IndexName") == index), [])
            return next((k["AttributeName"] for k in schema if k.get("KeyType") == "HASH"), None)
        return None


# ------------------------------------------------------------------------------------------ checker
@dataclasses.dataclass
class Cloud:
    dir: Path
    test: str
    region: str
    account: str
    partition: str
    functions: dict
    parameters: dict
    resources: dict
    # Calls the test makes on purpose where AWS's IAM would refuse them too (a number or bucket the
    # stack does not own): {"function", "action", "resource" (a wildcard pattern)}, from
    # expected-denials.jsonl (LocalCloud::expect_denied).
    expected_denials: list = dataclasses.field(default_factory=list)

    @classmethod
    def load(cls, path):
        d = json.loads((path / "cloud.json").read_text())
        expected = path / "expected-denials.jsonl"
        denials = [json.loads(line) for line in expected.read_text().splitlines() if line.strip()] if expected.exists() else []
        for e in denials:
            e["seen"] = 0
        return cls(path, d.get("test", "make dev"), d.get("region", "us-east-1"), str(d.get("account_id", "123456789012")),
                   d.get("partition", "aws"), d.get("functions") or {}, d.get("parameters") or {}, d.get("resources") or {},
                   denials)

    def expected_denial(self, function, action, resource):
        """The expected denial this denied call is, if any (counted, so one never seen can be reported)."""
        for e in self.expected_denials:
            if e["function"] == function and glob_match(e["action"], action, ignore_case=True) \
                    and glob_match(e["resource"], resource):
                e["seen"] += 1
                return e
        return None

    def requests(self, errors):
        for name in ("moto.jsonl", "emulator.jsonl"):
            path = self.dir / name
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines() if path.exists() else [], 1):
                try:
                    if line.strip():
                        yield Request.from_record(json.loads(line), f"{self.dir.name}/{name}:{n}")
                except (ValueError, TypeError, AttributeError) as e:
                    errors.append({"function": "", "error": f"{self.dir.name}/{name}:{n} is not a recorded request: {e}"})


def function_logical_id(template, name):
    for logical_id, decl in (template.get("Resources") or {}).items():
        if decl.get("Type") == "AWS::Serverless::Function" and (decl.get("Properties") or {}).get("FunctionName") == name:
            return logical_id
    logical_id = "".join(p[:1].upper() + p[1:] for p in re.split(r"[-_]", name)) + "Function"
    decl = (template.get("Resources") or {}).get(logical_id)
    return logical_id if decl and decl.get("Type") == "AWS::Serverless::Function" else None


def function_name(template, logical_id):
    """A function's name: its FunctionName, else its logical id less `Function`, kebab-cased."""
    name = ((template["Resources"][logical_id].get("Properties") or {}).get("FunctionName"))
    return name if isinstance(name, str) else re.sub(r"(?<!^)(?=[A-Z])", "-", logical_id.removesuffix("Function")).lower()


class Checker:
    def __init__(self, template_path, extra_templates=(), template=None):
        # `template`: an already loaded (and, for --prove-removals, changed) copy of template_path's.
        self.template = template if template is not None else load_template(template_path)
        self.extra_paths = [p for p in extra_templates if Path(p).exists()]
        self.extras = None
        self.services, self.iam = Services(), IamData()
        self.deriver = Deriver(self.iam)
        self.counts = defaultdict(int)
        self.failures = defaultdict(list)  # kind → [entries]
        self.calls = defaultdict(lambda: {"count": 0, "tests": set(), "allowed": True, "operations": set(), "note": None})
        self.grants = {}  # (principal, statement index, action, resource index) → grant
        self.actions = set()
        self.principals = {}  # name → (template, logical id, kind), or None: not in any template
        self.broken = set()  # principals whose policies cannot be read (reported once as errors)
        self._rendered, self._renderers = {}, {}
        self.last_cloud = None
        for logical_id, decl in self.template["Resources"].items():  # every function's grants are checked
            if decl.get("Type") == "AWS::Serverless::Function":
                self.principals[function_name(self.template, logical_id)] = (self.template, logical_id, "function")

    def principal(self, name):
        if name not in self.principals:
            if self.extras is None:
                self.extras = [load_template(p) for p in self.extra_paths]
            self.principals[name] = next(((t, function_logical_id(t, name), "function") for t in self.extras
                                          if function_logical_id(t, name)), None)
        return self.principals[name]

    def statements(self, name, cloud):
        template, logical_id, kind = self.principals[name]
        key = (name, json.dumps([cloud.parameters, cloud.resources, cloud.region, cloud.account, cloud.partition], sort_keys=True))
        if key not in self._rendered:
            renderer = Renderer(template, cloud)
            condition = template["Resources"][logical_id].get("Condition")
            deployed = renderer.condition(condition) if condition else True
            self._rendered[key] = render_statements(renderer, name, logical_id, deployed)
            for s in self._rendered[key]:
                self.note_grants(s)
        return self._rendered[key]

    def note_grants(self, s):
        if s.effect != "Allow":
            return
        for action in s.actions:
            for r_index, pattern, why, source in s.resources:
                g = self.grants.setdefault((s.principal, s.index, action, r_index), {
                    "principal": s.principal, "sid": s.sid or s.label, "statement": s.label, "action": action, "resource": None,
                    "source": source, "used": 0, "tests": set(), "deployed": False, "resolved": False, "unresolvable": set(),
                    "rendered": set()})
                g["deployed"] |= s.deployed
                if pattern is not None:
                    g["rendered"].add(pattern)
                    g["resource"] = g["resource"] or pattern
                if s.deployed and pattern is not None and not s.unresolvable:
                    g["resolved"] = True
                elif s.deployed:
                    g["unresolvable"].add(why or s.unresolvable)

    def role_principal(self, cloud, role_arn):
        for logical_id, decl in self.template["Resources"].items():
            if decl.get("Type") == "AWS::IAM::Role" and (cloud.resources.get(logical_id) or {}).get("Arn") == role_arn:
                self.principals.setdefault(logical_id, (self.template, logical_id, "role"))
                return logical_id
        return None

    def render(self, name, cloud):
        """The principal's statements, or None when they cannot be read (reported once)."""
        if name in self.broken:
            return None
        try:
            return self.statements(name, cloud)
        except (PolicyError, Unresolvable) as e:
            self.broken.add(name)
            self.failures["errors"].append({"function": name, "error": str(e)})
            return None

    # -- the run
    def run(self, calls_dir):
        calls_dir = Path(calls_dir)
        clouds = sorted(p for p in calls_dir.iterdir() if (p / "cloud.json").exists()) if calls_dir.is_dir() else []
        if not clouds:
            self.failures["errors"].append({"error": f"{calls_dir} holds no recorded cloud (no */cloud.json)"})
        for path in clouds:
            cloud = Cloud.load(path)
            self.run_cloud(cloud)
            # A refusal a test expects that never came: the test no longer shows what it says.
            for e in cloud.expected_denials:
                if not e["seen"]:
                    self.failures["errors"].append({"function": e["function"], "error": (
                        f"{cloud.test} expected IAM to refuse {e['action']} on {e['resource']}, and no such call was refused")})
        self.finish()

    def run_cloud(self, cloud):
        self.last_cloud = cloud
        for name, entry in list(self.principals.items()):
            if entry and entry[2] == "function" and entry[0] is self.template:
                self.render(name, cloud)
                self.assumable_roles(name, cloud)
        assumed, sessions, pending = defaultdict(set), defaultdict(set), []
        for req in cloud.requests(self.failures["errors"]):
            self.counts["calls"] += 1
            sig = req.signature()
            if sig is None:
                self.counts["unsigned"] += 1
            elif sig[0] == HARNESS_ACCESS_KEY or any(h.lower() == LOCAL_ORIGIN_HEADER for h in req.headers):
                self.counts["harness"] += 1
            elif sig[0] in cloud.functions:
                self.counts["function_calls"] += 1
                name = cloud.functions[sig[0]]
                for check, op in self.process(cloud, req, name, name, sig):
                    if check.action == "sts:AssumeRole":
                        assumed[check.resource].add(name)
                        sessions[check.resource].add(op.params.get("RoleSessionName"))
            else:
                pending.append((req, sig))
        for req, sig in pending:  # credentials a function got from sts:AssumeRole
            self.counts["function_calls"] += 1
            self.counts["assumed_role_calls"] += 1
            role_arn = next(iter(assumed)) if len(assumed) == 1 else None
            role = self.role_principal(cloud, role_arn) if role_arn else None
            if role is None:
                self.failures["unattributed"].append({
                    "access_key": sig[0], "test": cloud.test, "request": f"{req.method} {req.path}", "source": req.source,
                    "reason": "not a function's key, and the cloud's AssumeRole calls name " + (
                        f"{role_arn}, which is no role of the template (cloud.json resources)" if role_arn else f"{len(assumed)} roles")})
                continue
            via = ", ".join(sorted(assumed[role_arn]))
            self.process(cloud, req, role, f"{via} as {role}", sig, sorted(s for s in sessions[role_arn] if s))

    def assumable_roles(self, name, cloud):
        """Roles a function may assume have their grants checked for use too."""
        for s in self.render(name, cloud) or []:
            if s.effect == "Allow" and s.deployed and s.action_matches("sts:AssumeRole"):
                for logical_id, decl in self.template["Resources"].items():
                    arn = (cloud.resources.get(logical_id) or {}).get("Arn")
                    if decl.get("Type") == "AWS::IAM::Role" and arn and s.matching_resources(arn):
                        self.principals.setdefault(logical_id, (self.template, logical_id, "role"))
                        self.render(logical_id, cloud)

    def process(self, cloud, req, principal, who, sig, sessions=()):
        """Checks one request; returns [(check, operation)]."""
        if self.principal(principal) is None:
            self.failures["unknown_functions"].append({"function": principal, "test": cloud.test, "source": req.source,
                                                       "error": f"{principal} is no function of the template"})
            return []
        statements = self.render(principal, cloud)
        if statements is None:
            return []
        _, region, signing = sig
        try:
            op = self.services.identify(req, signing)
            checks = self.deriver.checks(op, cloud, region, self.renderer(self.principals[principal][0], cloud), sessions)
        except (UnmappedRequest, PolicyError, Unresolvable) as e:
            self.failures["unmapped"].append({"function": who, "test": cloud.test, "request": f"{req.method} {req.path}",
                                              "source": req.source, "reason": str(e)})
            return []
        for check in checks:
            self.counts["checks"] += 1
            self.actions.add(check.action)
            decision = evaluate(statements, check.action, check.resource, check.context)
            call = self.calls[(principal, check.action, check.resource)]
            call["count"] += 1
            call["tests"].add(cloud.test)
            call["operations"].add(check.operation)
            call["note"] = check.note or call["note"]
            call["allowed"] &= decision.allowed
            if check.note:
                self.failures["unknown_resources"].append({"function": who, "action": check.action, "test": cloud.test,
                                                           "reason": check.note, "allowed": decision.allowed})
            if not decision.allowed:
                row = {"function": who, "action": check.action, "resource": check.resource, "test": cloud.test,
                       "reason": decision.reason, "operation": check.operation, "source": req.source}
                expected = cloud.expected_denial(who, check.action, check.resource)
                self.failures["expected_denials" if expected else "denied"].append(row)
            for s, hits in decision.allowing:
                for action in s.actions:
                    if glob_match(action, check.action, ignore_case=True) != s.not_action:
                        for r_index, *_ in hits:
                            g = self.grants[(s.principal, s.index, action, r_index)]
                            g["used"] += 1
                            g["tests"].add(cloud.test)
        return [(c, op) for c in checks]

    def renderer(self, template, cloud):
        key = (id(template), cloud.dir)
        if key not in self._renderers:
            self._renderers[key] = Renderer(template, cloud)
        return self._renderers[key]

    def waivers(self, name):
        template, logical_id, _ = self.principals[name]
        out = []
        for i, w in enumerate((template["Resources"][logical_id].get("Metadata") or {}).get("IamUnused") or []):
            if not isinstance(w, dict) or not w.get("Action") or not str(w.get("Reason") or "").strip():
                self.failures["errors"].append({"function": name, "error": f"Metadata.IamUnused[{i}] needs an Action and a Reason"})
                continue
            resource = w.get("Resource")
            if resource is not None and not isinstance(resource, str) and self.last_cloud:
                try:
                    resource = str(Renderer(template, self.last_cloud).resolve(resource))
                except (Unresolvable, PolicyError) as e:
                    self.failures["errors"].append({"function": name, "error": f"Metadata.IamUnused[{i}].Resource: {e}"})
                    continue
            out.append({"actions": [str(a) for a in _as_list(w["Action"])], "resource": resource, "reason": w["Reason"], "covers": 0})
        return out

    def covers(self, w, g):
        return any(glob_match(a, g["action"], ignore_case=True) for a in w["actions"]) and (
            w["resource"] is None or any(glob_match(w["resource"], r) for r in g["rendered"] or {g["source"]}))

    def finish(self):
        """Each grant's status: used, unused, waived, not deployed locally or unresolvable."""
        waivers = {name: self.waivers(name) for name, entry in self.principals.items() if entry}
        self.statuses = defaultdict(list)
        for g in self.grants.values():
            covering = [w for w in waivers.get(g["principal"], []) if self.covers(w, g)]
            for w in covering:
                w["covers"] += 1
            if g["used"]:
                g["status"] = "used"
            elif not g["deployed"]:
                g["status"] = "not deployed locally"
            elif not g["resolved"]:
                g["status"] = "unresolvable"
            elif covering:
                g["status"], g["reason"] = "waived", covering[0]["reason"]
            else:
                g["status"] = "unused"
            self.statuses[g["status"]].append(g)
        self.condition_keys = {}  # every key the rendered policies test, and how the checker gets it
        for statements in self._rendered.values():
            for st in statements:
                for keys in (st.condition or {}).values():
                    for key in keys or {}:
                        k = key.lower()
                        self.condition_keys[key] = "derived from the request" if k in DERIVED_CONDITION_KEYS else \
                            f"never on a function's own call: {ABSENT_CONDITION_KEYS[k]}" if k in ABSENT_CONDITION_KEYS else \
                            "not derived: treated as absent from every call"
        for status in self.statuses.values():
            status.sort(key=lambda g: (g["principal"], g["statement"], g["action"], str(g["resource"])))
        for name, ws in waivers.items():
            self.failures["stale_waivers"] += [{"function": name, "action": ", ".join(w["actions"]), "resource": w["resource"],
                                                "reason": "covers no grant of its policy"} for w in ws if not w["covers"]]

    # -- the report
    @staticmethod
    def grant_row(g):
        row = {"function": g["principal"], "sid": g["sid"], "action": g["action"], "resource": g["resource"] or g["source"],
               "source": g["source"], "status": g["status"], "calls": g["used"], "tests": sorted(g["tests"])}
        if g.get("reason"):
            row["reason"] = g["reason"]
        if g["unresolvable"]:
            row["unresolvable"] = sorted(g["unresolvable"])
        return row

    def report(self):
        functions = defaultdict(lambda: {"calls": [], "grants": []})
        for (principal, action, resource), c in sorted(self.calls.items()):
            functions[principal]["calls"].append({
                "action": action, "resource": resource, "count": c["count"], "allowed": c["allowed"],
                "operations": sorted(c["operations"]), "tests": sorted(c["tests"]), **({"note": c["note"]} if c["note"] else {})})
        for g in sorted(self.grants.values(), key=lambda g: (g["principal"], g["statement"], g["action"], str(g["resource"]))):
            functions[g["principal"]]["grants"].append(self.grant_row(g))
        denied = _dedupe(self.failures["denied"], ("function", "action", "resource", "test"))
        expected_denials = _dedupe(self.failures["expected_denials"], ("function", "action", "resource", "test"))
        st, f = self.statuses, self.failures
        summary = {
            "calls": self.counts["calls"], "function_calls": self.counts["function_calls"],
            "ignored": self.counts["harness"] + self.counts["unsigned"], "harness_calls": self.counts["harness"],
            "unsigned_calls": self.counts["unsigned"], "assumed_role_calls": self.counts["assumed_role_calls"],
            "checks": self.counts["checks"], "distinct_actions": len(self.actions), "denied": len(denied),
            "expected_denials": len(expected_denials),
            "unattributed": len(f["unattributed"]), "unmapped": len(f["unmapped"]), "unknown_resources": len(f["unknown_resources"]),
            "stale_waivers": len(f["stale_waivers"]), "errors": len(f["errors"]) + len(f["unknown_functions"]),
            "grants": len(self.grants), "grants_used": len(st["used"]), "grants_unused": len(st["unused"]),
            "grants_waived": len(st["waived"]), "grants_not_deployed": len(st["not deployed locally"]),
            "grants_unresolvable": len(st["unresolvable"]),
        }
        return {
            "summary": summary, "denied": denied, "expected_denials": expected_denials,
            "unused": [{k: self.grant_row(g)[k] for k in ("function", "sid", "action", "resource", "source")} for g in st["unused"]],
            "waived": [self.grant_row(g) for g in st["waived"]],
            "not_deployed_locally": [self.grant_row(g) for g in st["not deployed locally"]],
            "unresolvable": [self.grant_row(g) for g in st["unresolvable"]],
            "unattributed": f["unattributed"], "unmapped": _dedupe(f["unmapped"], ("function", "request", "reason")),
            "unknown_resources": _dedupe(f["unknown_resources"], ("function", "action", "reason")),
            "stale_waivers": f["stale_waivers"], "errors": _dedupe(f["errors"] + f["unknown_functions"], ("function", "error")),
            "condition_keys": dict(sorted(self.condition_keys.items())),
            "functions": dict(sorted(functions.items())),
        }


def _dedupe(entries, keys):
    out = {}
    for e in entries:
        k = tuple(str(e.get(x)) for x in keys)
        if k in out:
            out[k]["count"] += 1
        else:
            out[k] = {**e, "count": 1}
    return list(out.values())


def failed(report, strict_unused):
    s = report["summary"]
    return bool(s["denied"] or s["unattributed"] or s["unmapped"] or s["stale_waivers"] or s["errors"]
                or (strict_unused and s["grants_unused"]))


def render_text(report, strict_unused, full=True):
    """The readable report; `full=False` (stdout) lists only what fails or is unused, plus counts."""
    s, lines = report["summary"], []
    lines.append(f"iam_check: {s['calls']} requests recorded: {s['function_calls']} by functions "
                 f"({s['assumed_role_calls']} with assumed-role credentials), {s['ignored']} ignored "
                 f"({s['harness_calls']} by the test harness, {s['unsigned_calls']} unsigned)")
    lines.append(f"  {s['checks']} permission checks of {s['distinct_actions']} distinct actions; grants: {s['grants_used']} used, "
                 f"{s['grants_unused']} unused, {s['grants_waived']} waived, {s['grants_not_deployed']} not deployed locally, "
                 f"{s['grants_unresolvable']} unresolvable (of {s['grants']})")
    sections = [
        ("DENIED", "denied", True, lambda e: f"{e['function']}  {e['action']}  {e['resource']}  [{e['test']}] x{e['count']}\n      {e['reason']}"),
        ("REFUSED AS THE TEST EXPECTS (AWS's IAM would refuse them too)", "expected_denials", False,
         lambda e: f"{e['function']}  {e['action']}  {e['resource']}  [{e['test']}] x{e['count']}"),
        ("UNATTRIBUTED", "unattributed", True, lambda e: f"{e['access_key']}  {e['request']}  [{e['test']}]  {e['reason']}"),
        ("UNMAPPED", "unmapped", True, lambda e: f"{e['function']}  {e['request']}  [{e['test']}] x{e['count']}  {e['reason']}"),
        ("ERRORS", "errors", True, lambda e: f"{e.get('function', '')}  {e.get('error')}"),
        ("STALE WAIVERS", "stale_waivers", True, lambda e: f"{e['function']}  {e['action']}  {e['resource'] or ''}  {e['reason']}"),
        ("UNKNOWN RESOURCES (checked against *)", "unknown_resources", False,
         lambda e: f"{e['function']}  {e['action']}  x{e['count']}  {e['reason']}"),
        ("UNUSED GRANTS" + (" (fail: --strict-unused)" if strict_unused else ""), "unused", strict_unused,
         lambda e: f"{e['function']}  {e['sid']}  {e['action']}  {e['resource']}"),
        ("WAIVED", "waived", False, lambda e: f"{e['function']}  {e['sid']}  {e['action']}  {e['resource']}  ({e['reason']})"),
        ("UNRESOLVABLE GRANTS", "unresolvable", False,
         lambda e: f"{e['function']}  {e['sid']}  {e['action']}  {e['source']}: {'; '.join(e.get('unresolvable', []))}"),
        ("NOT DEPLOYED LOCALLY", "not_deployed_locally", False, lambda e: f"{e['function']}  {e['sid']}  {e['action']}  {e['resource']}")]
    for title, key, always, fmt in sections:
        if report[key]:
            lines.append(f"{title} ({len(report[key])})" + (":" if full or always else " (see the report)"))
            lines += ["  " + fmt(e) for e in report[key]] if full or always else []
    lines.append("grants used/unused/waived/not deployed locally/unresolvable, and calls, per function:")
    for name, f in report["functions"].items():
        st = defaultdict(int)
        for g in f["grants"]:
            st[g["status"]] += 1
        lines.append(f"  {name:34} {st['used']}/{st['unused']}/{st['waived']}/{st['not deployed locally']}/{st['unresolvable']}"
                     f"  {sum(c['count'] for c in f['calls'])} calls")
    lines.append("RESULT: " + ("FAIL" if failed(report, strict_unused) else "ok"))
    return "\n".join(lines)


# --prove-removals: the check fails when a statement a call needs is removed (one function of each
# of these services), and reports a grant added that no call uses.
REMOVALS = [
    ("check-emergency", "ReadLocationState"),          # DynamoDB (moto)
    ("provision-flows", "PutAndDeletePromptRecordings"),  # S3 (moto)
    ("start-chat", "StartChatsInTheVideoFlow"),        # Connect (the emulator)
    ("create-meeting", "CreateMeetings"),              # Chime SDK Meetings (the emulator)
]
UNUSED_GRANT = ("check-emergency", {"Sid": "ProvedUnused", "Effect": "Allow", "Action": "dynamodb:Scan",
                                    "Resource": {"Fn::GetAtt": ["EmergencyTable", "Arn"]}})


def function_statements(template, name):
    """The function's inline policy statements (the lists themselves, to change in place)."""
    logical_id = function_logical_id(template, name)
    if logical_id is None:
        raise SystemExit(f"--prove-removals: {name} is not a function of the template")
    policies = template["Resources"][logical_id]["Properties"].get("Policies") or []
    return [p["Statement"] for p in policies if isinstance(p, dict) and isinstance(p.get("Statement"), list)]


def prove_removals(template_path, extras, calls):
    """Runs the check on changed copies of the template: each removal must be denied, naming the
    function and an action of the removed statement; the added grant must be reported unused."""
    import copy
    base = load_template(template_path)
    problems = []
    for name, sid in REMOVALS:
        template = copy.deepcopy(base)
        removed = None
        for statements in function_statements(template, name):
            for st in list(statements):
                if isinstance(st, dict) and st.get("Sid") == sid:
                    statements.remove(st)
                    removed = st
        if removed is None:
            problems.append(f"{name} has no statement {sid}")
            continue
        actions = {a.lower() for a in (removed["Action"] if isinstance(removed["Action"], list) else [removed["Action"]])}
        checker = Checker(template_path, extras, template=copy.deepcopy(template))
        checker.run(calls)
        denied = [d for d in checker.report()["denied"] if d["function"] == name and d["action"].lower() in actions]
        if not denied:
            problems.append(f"removing {name}'s {sid} denied no call of {sorted(actions)}")
        else:
            d = denied[0]
            print(f"removing {name}'s {sid}: {len(denied)} calls denied, e.g. {d['action']} on {d['resource']} [{d['test']}]")
    template = copy.deepcopy(base)
    name, statement = UNUSED_GRANT
    function_statements(template, name)[0].append(statement)
    checker = Checker(template_path, extras, template=template)
    checker.run(calls)
    unused = [u for u in checker.report()["unused"] if u["function"] == name and u["sid"] == statement["Sid"]]
    if unused:
        print(f"adding {statement['Action']} to {name}: reported unused ({unused[0]['resource']})")
    else:
        problems.append(f"adding {statement['Action']} to {name} was not reported unused")
    for problem in problems:
        print(f"PROOF FAILED: {problem}")
    return 1 if problems else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=Path, default=ROOT / "target" / "iam" / "calls")
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--extra-template", type=Path, action="append", default=None,
                        help="searched for a recorded function the main template lacks (default: recording-events.yaml beside it)")
    parser.add_argument("--report", type=Path, default=ROOT / "target" / "iam" / "report.json")
    parser.add_argument("--strict-unused", action="store_true", help="unused grants fail the run too")
    parser.add_argument("--self-test", action="store_true", help="run the checker's own tests only")
    parser.add_argument("--prove-removals", action="store_true",
                        help="check that removing a needed statement fails the check and an added grant is reported unused")
    args = parser.parse_args(argv)
    if args.self_test:
        result = unittest.TextTestRunner(stream=sys.stderr, verbosity=1).run(unittest.defaultTestLoader.loadTestsFromTestCase(SelfTest))
        return 0 if result.wasSuccessful() else 1
    extras = args.extra_template if args.extra_template is not None else [args.template.parent / "recording-events.yaml"]
    if args.prove_removals:
        return prove_removals(args.template, extras, args.calls)
    checker = Checker(args.template, extras)
    checker.run(args.calls)
    report = checker.report()
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=1) + "\n")
    (args.report.parent / "report.txt").write_text(render_text(report, args.strict_unused) + "\n")
    print(render_text(report, args.strict_unused, full=False) + f"\n(report: {args.report}, {args.report.parent / 'report.txt'})")
    return 1 if failed(report, args.strict_unused) else 0


# ---------------------------------------------------------------------------------------- self-test
ACCOUNT, REGION = "123456789012", "ap-southeast-2"


class _Captured(Exception):
    pass


def recorded(service, method, params, key="AKIDFUNCTION", **client_args):
    """A request botocore signs with SigV4, in moto's recorder format (nothing is sent)."""
    from botocore.config import Config
    client = botocore.session.get_session().create_client(
        service, region_name=REGION, endpoint_url="http://127.0.0.1:5999", aws_access_key_id=key,
        aws_secret_access_key="secret", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 0}), **client_args)
    got = {}

    def capture(request, **_):
        got["request"] = request
        raise _Captured()
    client.meta.events.register("before-send", capture)
    try:
        getattr(client, method)(**params)
    except _Captured:
        pass
    r = got["request"]
    body = r.body if isinstance(r.body, bytes) else (r.body or "").encode() if isinstance(r.body, str) else b""
    return {"headers": {k: v.decode() if isinstance(v, bytes) else v for k, v in r.headers.items()}, "method": r.method,
            "url": r.url, "body": base64.b64encode(body).decode(), "body_encoded": True}


TINY_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Prefix: {Type: String, Default: keys/}
  Flag: {Type: String, Default: "off"}
Conditions:
  FlagOn: !Equals [!Ref Flag, "on"]
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}]
  ReadThingsFunction:
    Type: AWS::Serverless::Function
    Metadata:
      IamUnused: [WAIVERS]
    Properties:
      CodeUri: functions/read-things
      Policies:
        - Statement:
            - Sid: ReadThings
              Effect: Allow
              Action: dynamodb:GetItem
              Resource: !GetAtt Table.Arn
              Condition: {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["THING#*"]}}
            - EXTRA
            - !If
              - FlagOn
              - {Sid: OnlyWithFlag, Effect: Allow, Action: ssm:GetParameter, Resource: "*"}
              - !Ref AWS::NoValue
"""


class SelfTest(unittest.TestCase):
    maxDiff = None

    # -- the evaluator (IAM User Guide, "Policy evaluation logic" and "Condition operators")
    def stmt(self, effect="Allow", action="s3:GetObject", resource="*", condition=None, not_action=False, not_resource=False):
        return Statement("p", "t", None, (0, 0), effect, _as_list(action), not_action,
                         [((i, 0), r, None, r) for i, r in enumerate(_as_list(resource))], not_resource, condition or {})

    def test_default_deny_allow_and_explicit_deny(self):
        allow = self.stmt(resource="arn:aws:s3:::b/*")
        self.assertFalse(evaluate([], "s3:GetObject", "arn:aws:s3:::b/k", {}).allowed)
        self.assertTrue(evaluate([allow], "s3:GetObject", "arn:aws:s3:::b/k", {}).allowed)
        self.assertFalse(evaluate([allow, self.stmt("Deny", "s3:*")], "s3:GetObject", "arn:aws:s3:::b/k", {}).allowed)
        self.assertFalse(evaluate([allow], "s3:GetObject", "arn:aws:s3:::other/k", {}).allowed)

    def test_action_wildcards_are_case_insensitive_resources_are_not(self):
        self.assertTrue(evaluate([self.stmt(action="S3:get*")], "s3:GetObject", "x", {}).allowed)
        self.assertTrue(evaluate([self.stmt(action="s3:Get?bject")], "s3:GetObject", "x", {}).allowed)
        self.assertFalse(evaluate([self.stmt(action="s3:Get?bject")], "s3:GetObjectAcl", "x", {}).allowed)
        self.assertFalse(evaluate([self.stmt(resource="arn:aws:s3:::B/*")], "s3:GetObject", "arn:aws:s3:::b/k", {}).allowed)
        self.assertTrue(evaluate([self.stmt(resource="arn:aws:s3:::b/?")], "s3:GetObject", "arn:aws:s3:::b/k", {}).allowed)
        # a resource that is unknown is "*", which only a grant on "*" covers
        self.assertFalse(evaluate([self.stmt(resource="arn:aws:s3:::*")], "s3:GetObject", "*", {}).allowed)

    def test_not_action_and_not_resource(self):
        s = self.stmt(action="s3:Delete*", not_action=True)
        self.assertTrue(evaluate([s], "s3:GetObject", "x", {}).allowed)
        self.assertFalse(evaluate([s], "s3:DeleteObject", "x", {}).allowed)
        s = self.stmt(resource="arn:aws:s3:::secret/*", not_resource=True)
        self.assertTrue(evaluate([s], "s3:GetObject", "arn:aws:s3:::b/k", {}).allowed)
        self.assertFalse(evaluate([s], "s3:GetObject", "arn:aws:s3:::secret/k", {}).allowed)

    def test_conditions(self):
        ctx = {"dynamodb:leadingkeys": ["OTP#1", "OTP#2"], "ecs:cluster": ["arn:aws:ecs:r:1:cluster/c"], "aws:securetransport": ["true"]}
        holds = lambda op, key, values, c=ctx: condition_holds(op, key, values, c)  # noqa: E731
        self.assertTrue(holds("ForAllValues:StringLike", "dynamodb:LeadingKeys", ["OTP#*"]))
        self.assertFalse(holds("ForAllValues:StringLike", "dynamodb:LeadingKeys", ["OTP#1"]))
        self.assertTrue(holds("ForAllValues:StringLike", "dynamodb:LeadingKeys", ["OTP#*"], {}))  # missing: vacuous
        self.assertTrue(holds("ForAllValues:StringLike", "dynamodb:LeadingKeys", ["x"], {"dynamodb:leadingkeys": []}))
        self.assertTrue(holds("ForAnyValue:StringEquals", "dynamodb:LeadingKeys", ["OTP#2"]))
        self.assertFalse(holds("ForAnyValue:StringEquals", "dynamodb:LeadingKeys", ["OTP#2"], {}))
        self.assertTrue(holds("StringEquals", "dynamodb:LeadingKeys", ["X", "OTP#1"]))  # values OR
        self.assertFalse(holds("StringEquals", "aws:SecureTransport", ["true"], {}))  # missing key
        self.assertTrue(holds("StringNotEquals", "aws:SecureTransport", ["true"], {}))  # negated: missing holds
        self.assertFalse(holds("StringNotEquals", "aws:SecureTransport", ["false", "true"]))
        self.assertTrue(holds("StringEqualsIfExists", "s3:prefix", ["a/"], {}))
        self.assertFalse(holds("StringEqualsIfExists", "s3:prefix", ["a/"], {"s3:prefix": ["b/"]}))
        self.assertTrue(holds("Bool", "aws:SecureTransport", [True]))
        self.assertTrue(holds("Null", "s3:prefix", ["true"], {}))
        self.assertFalse(holds("Null", "s3:prefix", ["true"], {"s3:prefix": ["a"]}))
        self.assertTrue(holds("ArnEquals", "ecs:cluster", ["arn:aws:ecs:r:1:cluster/c"]))
        self.assertTrue(holds("ArnLike", "ecs:cluster", ["arn:aws:ecs:*:1:cluster/*"]))
        self.assertFalse(holds("ArnEquals", "ecs:cluster", ["arn:aws:ecs:r:1:cluster/d"]))
        self.assertTrue(holds("ArnNotLike", "ecs:cluster", ["arn:aws:ecs:*:*:cluster/d"]))
        self.assertTrue(holds("NumericLessThan", "n", ["10"], {"n": ["9"]}))
        self.assertFalse(holds("NumericLessThan", "n", ["10"], {"n": ["x"]}))
        self.assertTrue(holds("StringLike", "K", ["A?C"], {"k": ["ABC"]}))  # keys are case-insensitive
        self.assertRaises(PolicyError, holds, "StringSorta", "k", ["a"])
        # several operators and keys: all must hold
        s = self.stmt(condition={"StringEquals": {"aws:SecureTransport": "true"}, "ArnEquals": {"ecs:cluster": "arn:aws:ecs:r:1:cluster/d"}})
        self.assertFalse(evaluate([s], "s3:GetObject", "x", ctx).allowed)
        self.assertIn("ecs:cluster", evaluate([s], "s3:GetObject", "x", ctx).reason)
        # an underivable key: an Allow does not apply, a Deny does not lift it
        under = {"dynamodb:leadingkeys": _Underivable("test")}
        allow = self.stmt(condition={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": "*"}})
        self.assertFalse(evaluate([allow], "s3:GetObject", "x", under).allowed)

    # -- request parsing: (IAM action, resource, condition keys) from recorded, SigV4-signed requests
    def cloud(self, **kw):
        res = {"Table": {"Ref": "things", "Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/things"}}
        res.update(kw.pop("resources", {}))
        return Cloud(Path("/nonexistent"), "tests::one", REGION, ACCOUNT, "aws", {"AKIDFUNCTION": "read-things"},
                     kw.pop("parameters", {}), res)

    def derive(self, record, template=None, cloud=None):
        cloud = cloud or self.cloud()
        req = Request.from_record(json.loads(json.dumps(record)), "fixture")
        key, region, signing = req.signature()
        self.assertEqual(key, "AKIDFUNCTION")
        op = self.services.identify(req, signing)
        renderer = Renderer(template or json.loads(json.dumps(self.tiny_rendered)), cloud)
        return [(c.action, c.resource, c.context, c.note) for c in Deriver(self.iam).checks(op, cloud, region, renderer, ("alice",))]

    @classmethod
    def setUpClass(cls):
        cls.services, cls.iam = Services(), IamData()
        cls.tiny_rendered = {"Resources": {"Table": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]}}}}
        cls.table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/things"

    def test_dynamodb(self):
        (a, r, ctx, _), = self.derive(recorded("dynamodb", "get_item", {"TableName": "things", "Key": {"pk": {"S": "THING#1"}, "sk": {"S": "x"}}}))
        self.assertEqual((a, r, ctx["dynamodb:leadingkeys"]), ("dynamodb:GetItem", self.table, ["THING#1"]))
        (a, r, ctx, _), = self.derive(recorded("dynamodb", "query", {
            "TableName": "things", "IndexName": "byName", "KeyConditionExpression": "#p = :v AND begins_with(sk, :s)",
            "ExpressionAttributeNames": {"#p": "pk"}, "ExpressionAttributeValues": {":v": {"S": "M#9"}, ":s": {"S": "R"}}}))
        self.assertEqual((a, r), ("dynamodb:Query", self.table + "/index/byName"))
        self.assertIsInstance(ctx["dynamodb:leadingkeys"], _Underivable)  # the template declares no such index
        (a, r, ctx, _), = self.derive(recorded("dynamodb", "query", {
            "TableName": "things", "KeyConditionExpression": "pk = :v", "ExpressionAttributeValues": {":v": {"S": "M#9"}}}))
        self.assertEqual((a, r, ctx["dynamodb:leadingkeys"]), ("dynamodb:Query", self.table, ["M#9"]))
        checks = self.derive(recorded("dynamodb", "transact_write_items", {"TransactItems": [
            {"Put": {"TableName": "things", "Item": {"pk": {"S": "A#1"}, "sk": {"S": "x"}}}},
            {"ConditionCheck": {"TableName": "things", "Key": {"pk": {"S": "B#1"}, "sk": {"S": "x"}}, "ConditionExpression": "attribute_exists(pk)"}},
            {"Update": {"TableName": "other", "Key": {"pk": {"S": "C#1"}}, "UpdateExpression": "SET a = :a", "ExpressionAttributeValues": {":a": {"N": "1"}}}}]}))
        self.assertEqual([(a, r, c.get("dynamodb:leadingkeys")) for a, r, c, _ in checks[:2]],
                         [("dynamodb:PutItem", self.table, ["A#1"]), ("dynamodb:ConditionCheckItem", self.table, ["B#1"])])
        self.assertEqual(checks[2][:2], ("dynamodb:UpdateItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/other"))
        self.assertIsInstance(checks[2][2]["dynamodb:leadingkeys"], _Underivable)

    def test_s3_path_style(self):
        (a, r, ctx, _), = self.derive(recorded("s3", "put_object", {"Bucket": "site", "Key": "a b/c.txt", "Body": b"x"}))
        self.assertEqual((a, r), ("s3:PutObject", "arn:aws:s3:::site/a b/c.txt"))
        (a, r, ctx, _), = self.derive(recorded("s3", "list_objects_v2", {"Bucket": "site", "Prefix": "prompts/"}))
        self.assertEqual((a, r, ctx["s3:prefix"]), ("s3:ListBucket", "arn:aws:s3:::site", ["prompts/"]))
        (a, r, ctx, _), = self.derive(recorded("s3", "head_object", {"Bucket": "site", "Key": "RECORDINGS/m.json"}))
        self.assertEqual((a, r), ("s3:GetObject", "arn:aws:s3:::site/RECORDINGS/m.json"))
        checks = self.derive(recorded("s3", "delete_objects", {"Bucket": "site", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b"}]}}))
        self.assertEqual([(a, r) for a, r, *_ in checks], [("s3:DeleteObject", "arn:aws:s3:::site/a"), ("s3:DeleteObject", "arn:aws:s3:::site/b")])
        vhost = recorded("s3", "get_object", {"Bucket": "site", "Key": "k"})
        vhost["url"] = vhost["url"].replace("/site/k", "/k")
        vhost["headers"] = {**vhost["headers"], "host": "site.s3.localhost.localstack.cloud:4566"}
        self.assertEqual(self.derive(vhost)[0][:2], ("s3:GetObject", "arn:aws:s3:::site/k"))

    def test_secrets_and_parameters(self):
        secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:app/pepper-AbC123"
        cloud = self.cloud(resources={"Pepper": {"Ref": secret}})
        (a, r, *_), = self.derive(recorded("secretsmanager", "get_secret_value", {"SecretId": "app/pepper"}), cloud=cloud)
        self.assertEqual((a, r), ("secretsmanager:GetSecretValue", secret))  # the name's full ARN
        (a, r, *_), = self.derive(recorded("secretsmanager", "get_secret_value", {"SecretId": secret}))
        self.assertEqual(r, secret)
        (a, r, *_), = self.derive(recorded("ssm", "get_parameter", {"Name": "/keys/one"}))
        self.assertEqual((a, r), ("ssm:GetParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/keys/one"))

    def test_ecs_run_task_passes_the_task_definitions_roles(self):
        template = {"Resources": {"Defn": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
            "Family": {"Fn::Sub": "${AWS::StackName}-recorder"}, "TaskRoleArn": {"Fn::GetAtt": ["TaskRole", "Arn"]},
            "ExecutionRoleArn": {"Fn::GetAtt": ["ExecRole", "Arn"]}}},
            "TaskRole": {"Type": "AWS::IAM::Role"}, "ExecRole": {"Type": "AWS::IAM::Role"}}}
        cloud = self.cloud(resources={"TaskRole": {"Arn": "arn:aws:iam::1:role/task"}, "ExecRole": {"Arn": "arn:aws:iam::1:role/exec"}})
        checks = self.derive(recorded("ecs", "run_task", {"cluster": "rec", "taskDefinition": "switchboard-local-recorder:3",
                                                          "overrides": {"containerOverrides": []}}), template, cloud)
        td = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/switchboard-local-recorder:3"
        self.assertEqual([(a, r) for a, r, *_ in checks], [("ecs:RunTask", td), ("iam:PassRole", "arn:aws:iam::1:role/exec"),
                                                           ("iam:PassRole", "arn:aws:iam::1:role/task")])
        self.assertEqual(checks[0][2]["ecs:cluster"], [f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/rec"])
        self.assertEqual(checks[1][2]["iam:passedtoservice"], ["ecs-tasks.amazonaws.com"])
        (a, r, ctx, note), = self.derive(recorded("ecs", "list_tasks", {"startedBy": "x"}))
        self.assertEqual((a, r, ctx["ecs:cluster"]), ("ecs:ListTasks", "*", [f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/default"]))
        (a, r, *_), = self.derive(recorded("ecs", "stop_task", {"cluster": "rec", "task": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/rec/abc"}))
        self.assertEqual((a, r), ("ecs:StopTask", f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/rec/abc"))

    def test_connect_chime_pinpoint_cognito_sts(self):
        inst = f"arn:aws:connect:{REGION}:{ACCOUNT}:instance/i-1"
        cases = [
            (("connect", "create_contact_flow", {"InstanceId": "i-1", "Name": "f", "Type": "CONTACT_FLOW", "Content": "{}"}),
             ("connect:CreateContactFlow", inst + "/contact-flow/*")),
            (("connect", "update_contact_flow_content", {"InstanceId": "i-1", "ContactFlowId": "cf", "Content": "{}"}),
             ("connect:UpdateContactFlowContent", inst + "/contact-flow/cf")),
            (("connect", "update_contact_attributes", {"InstanceId": "i-1", "InitialContactId": "c-1", "Attributes": {"a": "b"}}),
             ("connect:UpdateContactAttributes", inst + "/contact/c-1")),
            (("connect", "get_contact_attributes", {"InstanceId": "i-1", "InitialContactId": "c-1"}),
             ("connect:GetContactAttributes", inst + "/contact/c-1")),
            (("connect", "start_chat_contact", {"InstanceId": "i-1", "ContactFlowId": "cf", "ParticipantDetails": {"DisplayName": "x"}}),
             ("connect:StartChatContact", inst + "/contact-flow/cf")),
            (("connect", "describe_user", {"InstanceId": inst, "UserId": "u-1"}), ("connect:DescribeUser", inst + "/agent/u-1")),
            (("connect", "tag_resource", {"resourceArn": inst + "/contact-flow/cf", "tags": {"k": "v"}}),  # the most specific type
             ("connect:TagResource", inst + "/contact-flow/cf")),
            (("connect", "get_federation_token", {"InstanceId": "i-1"}), ("connect:GetFederationToken", inst + "/user/alice")),
            (("chime-sdk-meetings", "create_attendee", {"MeetingId": "m-1", "ExternalUserId": "agent-1"}),
             ("chime:CreateAttendee", f"arn:aws:chime:{REGION}:{ACCOUNT}:meeting/m-1")),
            (("chime-sdk-meetings", "create_meeting_with_attendees", {"ClientRequestToken": "t" * 8, "MediaRegion": REGION,
                                                                     "ExternalMeetingId": "ext-1", "Attendees": [{"ExternalUserId": "agent-1"}]}),
             ("chime:CreateMeetingWithAttendees", "*")),  # no resource type: only a grant on * allows it
            (("pinpoint", "send_messages", {"ApplicationId": "app1", "MessageRequest": {
                "Addresses": {"+61400000000": {"ChannelType": "SMS"}}, "MessageConfiguration": {"SMSMessage": {"Body": "1234"}}}}),
             ("mobiletargeting:SendMessages", f"arn:aws:mobiletargeting:{REGION}:{ACCOUNT}:apps/app1/messages")),
            (("cognito-idp", "admin_update_user_attributes", {"UserPoolId": "pool1", "Username": "u", "UserAttributes": []}),
             ("cognito-idp:AdminUpdateUserAttributes", f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/pool1")),
            (("sts", "assume_role", {"RoleArn": "arn:aws:iam::1:role/fed", "RoleSessionName": "alice"}), ("sts:AssumeRole", "arn:aws:iam::1:role/fed")),
            (("codepipeline", "start_pipeline_execution", {"name": "app-dev"}),
             ("codepipeline:StartPipelineExecution", f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:app-dev")),
            (("cloudfront", "create_invalidation", {"DistributionId": "D1", "InvalidationBatch": {"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": "r"}}),
             ("cloudfront:CreateInvalidation", f"arn:aws:cloudfront::{ACCOUNT}:distribution/D1")),
        ]
        for (service, method, params), expected in cases:
            with self.subTest(method):
                (a, r, ctx, note), = self.derive(recorded(service, method, params))
                self.assertEqual((a, r), expected)
                self.assertIsNone(note)

    def test_unknown_operation_and_resource_are_reported(self):
        req = recorded("dynamodb", "get_item", {"TableName": "t", "Key": {}})
        req["headers"]["X-Amz-Target"] = "DynamoDB_20120810.NoSuchThing"
        self.assertRaises(UnmappedRequest, self.derive, req)
        # a task definition the template does not declare: its roles are unknown, so PassRole is checked on "*"
        checks = self.derive(recorded("ecs", "run_task", {"taskDefinition": "x"}))
        self.assertEqual([c[:2] for c in checks], [("ecs:RunTask", f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/x:*"),
                                                   ("iam:PassRole", "*")])
        self.assertIn("no task definition", checks[1][3])

    def test_tables_are_needed_and_name_real_actions(self):
        for (prefix, op), action in OPERATION_ACTIONS.items():
            self.assertIsNotNone(self.iam.privilege(action), action)
            try:
                without = self.iam.action_for(prefix, op, use_table=False)
            except UnmappedRequest:
                without = None
            self.assertNotEqual(without, action, f"{prefix} {op}: the IAM database already gives {action}")
        self.assertEqual(self.iam.action_for("s3", "ListObjectsV2"), "s3:ListBucket")  # from the link
        self.assertEqual(self.iam.action_for("s3", "GetObject"), "s3:GetObject")  # GetObjectVersion links it too
        for (prefix, op), (action, _, _) in IMPLICIT_ACTIONS.items():
            self.assertIsNotNone(self.iam.privilege(action))
            deps = {d for t in self.iam.privilege(f"{prefix}:{op}")["resource_types"].values() for d in t["dependent_actions"]}
            self.assertIn(action, deps)
        for expand in EXPANSIONS.values():
            for action, _ in expand({"TransactItems": [{k: {}} for k in ("Put", "Update", "Delete", "ConditionCheck", "Get")],
                                     "RequestItems": {"t": [{"PutRequest": {"Item": {}}}]}, "Delete": {"Object": [{"Key": "k"}]}}):
                self.assertIsNotNone(self.iam.privilege(action), action)
        for action in RESOURCE_OVERRIDES:
            self.assertIsNotNone(self.iam.privilege(action), action)

    # -- end to end: a tiny template and a recorded cloud
    def run_tiny(self, extra="", waivers="", parameters=None, calls=None, edit=lambda t: t):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            template = edit(TINY_TEMPLATE).replace("- EXTRA", extra or "- {Sid: Nothing, Effect: Deny, Action: s3:DeleteBucket, Resource: '*'}")
            template = template.replace("IamUnused: [WAIVERS]", f"IamUnused: [{waivers}]")
            (tmp / "template.yaml").write_text(template)
            cloud = tmp / "calls" / "c1"
            cloud.mkdir(parents=True)
            (cloud / "cloud.json").write_text(json.dumps({
                "test": "things::read", "region": REGION, "account_id": ACCOUNT, "partition": "aws",
                "functions": {"AKIDFUNCTION": "read-things"}, "parameters": parameters or {},
                "resources": {"Table": {"Ref": "things", "Arn": self.table}}}))
            records = calls or [recorded("dynamodb", "get_item", {"TableName": "things", "Key": {"pk": {"S": "THING#1"}}}),
                                recorded("dynamodb", "get_item", {"TableName": "things", "Key": {"pk": {"S": "THING#2"}}}, key="testing")]
            (cloud / "moto.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
            checker = Checker(tmp / "template.yaml", ())
            checker.run(tmp / "calls")
            return checker.report()

    def test_end_to_end(self):
        ok = self.run_tiny()
        self.assertEqual((ok["summary"]["denied"], ok["summary"]["function_calls"], ok["summary"]["ignored"]), (0, 1, 1))
        self.assertEqual(ok["summary"]["grants_unused"], 0)
        self.assertEqual([g["sid"] for g in ok["not_deployed_locally"]], ["OnlyWithFlag"])
        self.assertFalse(failed(ok, True))
        # the statement that allows it gone: denied, naming function, action, resource and test
        denied = self.run_tiny(edit=lambda t: t.replace("Action: dynamodb:GetItem", "Action: dynamodb:PutItem"))
        (d,) = denied["denied"]
        self.assertEqual((d["function"], d["action"], d["resource"], d["test"]), ("read-things", "dynamodb:GetItem", self.table, "things::read"))
        self.assertTrue(failed(denied, False))
        # a key outside the condition: denied with the condition as the reason
        wrong = self.run_tiny(calls=[recorded("dynamodb", "get_item", {"TableName": "things", "Key": {"pk": {"S": "OTHER#1"}}})])
        self.assertIn("dynamodb:LeadingKeys", wrong["denied"][0]["reason"])
        # an extra statement: unused; a waiver makes it waived; a waiver for nothing is stale
        extra = "- {Sid: ReadParams, Effect: Allow, Action: ssm:GetParameter, Resource: 'arn:aws:ssm:*:*:parameter/x'}"
        unused = self.run_tiny(extra)
        self.assertEqual([(u["sid"], u["action"]) for u in unused["unused"]], [("ReadParams", "ssm:GetParameter")])
        self.assertFalse(failed(unused, False))
        self.assertTrue(failed(unused, True))
        waived = self.run_tiny(extra, "{Action: 'ssm:Get*', Resource: 'arn:aws:ssm:*', Reason: only in production}")
        self.assertEqual([(w["sid"], w["reason"]) for w in waived["waived"]], [("ReadParams", "only in production")])
        self.assertFalse(failed(waived, True))
        stale = self.run_tiny(extra, "{Action: 'sqs:*', Reason: nothing}")
        self.assertEqual(len(stale["stale_waivers"]), 1)
        self.assertTrue(failed(stale, False))
        # the flag on: the conditional statement is deployed, and unused
        on = self.run_tiny(parameters={"Flag": "on"})
        self.assertEqual([u["sid"] for u in on["unused"]], ["OnlyWithFlag"])
        # a key that is neither a function's nor the harness's, with no AssumeRole: unattributed
        stranger = self.run_tiny(calls=[recorded("dynamodb", "get_item", {"TableName": "things", "Key": {}}, key="ASIASTRANGER")])
        self.assertEqual(stranger["summary"]["unattributed"], 1)

    def test_assumed_role_credentials_are_checked_against_the_role(self):
        role_arn = f"arn:aws:iam::{ACCOUNT}:role/fed"
        template = {"Resources": {
            "FedRole": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [
                {"Sid": "Federate", "Effect": "Allow", "Action": "connect:GetFederationToken", "Resource": "arn:aws:connect:*:*:instance/i-1/user/*"},
                {"Sid": "Never", "Effect": "Allow", "Action": "connect:DescribeUser", "Resource": "*"}]}}]}},
            "LoginFunction": {"Type": "AWS::Serverless::Function", "Properties": {"Policies": [{"Statement": [
                {"Sid": "Assume", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": {"Fn::GetAtt": ["FedRole", "Arn"]}}]}]}}}}
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            (tmp / "t.yaml").write_text(json.dumps(template))
            cloud = tmp / "calls" / "c1"
            cloud.mkdir(parents=True)
            (cloud / "cloud.json").write_text(json.dumps({"test": "login", "region": REGION, "account_id": ACCOUNT,
                                                          "functions": {"AKIDFUNCTION": "login"}, "resources": {"FedRole": {"Arn": role_arn}}}))
            (cloud / "moto.jsonl").write_text(json.dumps(recorded("sts", "assume_role", {"RoleArn": role_arn, "RoleSessionName": "bob"})) + "\n")
            (cloud / "emulator.jsonl").write_text(json.dumps(recorded("connect", "get_federation_token", {"InstanceId": "i-1"}, key="ASIAX")) + "\n")
            checker = Checker(tmp / "t.yaml", ())
            checker.run(tmp / "calls")
            report = checker.report()
        self.assertEqual((report["summary"]["denied"], report["summary"]["assumed_role_calls"], report["summary"]["unattributed"]), (0, 1, 0))
        (call,) = report["functions"]["FedRole"]["calls"]
        self.assertEqual(call["resource"], f"arn:aws:connect:{REGION}:{ACCOUNT}:instance/i-1/user/bob")
        self.assertEqual([(u["function"], u["sid"]) for u in report["unused"]], [("FedRole", "Never")])

    def test_renderer(self):
        template = {"Parameters": {"P": {"Type": "String", "Default": "d"}, "L": {"Type": "CommaDelimitedList", "Default": "a,b"}},
                    "Conditions": {"IsD": {"Fn::Equals": [{"Ref": "P"}, "d"]}, "Both": {"Fn::And": [{"Condition": "IsD"}, {"Fn::Not": [{"Condition": "IsD"}]}]}},
                    "Mappings": {"M": {"k": {"v": "mapped"}}},
                    "Resources": {"R": {"Type": "X"}, "Off": {"Type": "X", "Condition": "Both"}}}
        r = Renderer(template, self.cloud(resources={"R": {"Ref": "r1", "Arn": "arn:r1"}, "Off": {"Ref": "o"}}))
        self.assertEqual(r.resolve({"Fn::Sub": "${AWS::Region}/${R}/${R.Arn}/${!Lit}/${P}"}), f"{REGION}/r1/arn:r1/${{Lit}}/d")
        self.assertEqual(r.resolve({"Fn::Sub": ["${X}-${AWS::StackName}", {"X": {"Fn::Select": [1, {"Ref": "L"}]}}]}), "b-switchboard-local")
        self.assertEqual(r.resolve([{"Fn::If": ["IsD", "yes", {"Ref": "AWS::NoValue"}]}, {"Fn::If": ["Both", "no", {"Ref": "AWS::NoValue"}]}]), ["yes"])
        self.assertEqual(r.resolve({"Fn::Join": ["-", {"Fn::Split": [",", "x,y"]}]}), "x-y")
        self.assertEqual(r.resolve({"Fn::FindInMap": ["M", "k", "v"]}), "mapped")
        self.assertRaises(Unresolvable, r.resolve, {"Ref": "Off"})
        self.assertRaises(Unresolvable, r.resolve, {"Fn::GetAtt": ["R", "Missing"]})


if __name__ == "__main__":
    sys.exit(main())
