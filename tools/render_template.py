"""Prints a CloudFormation/SAM template as JSON, with its Fn::ForEach loops expanded.

    .venv/bin/python tools/render_template.py TEMPLATE

The loops are expanded by SAM CLI's own AWS::LanguageExtensions processor (the one `sam build`
runs); nothing else is resolved, so every Ref, Sub, condition and parameter stays as written. The
result is what the template declares, resource by resource. `make test` scans it with checkov
(which does not expand Fn::ForEach, and drops a template's SAM Globals when it meets one), and the
template tests (tests/template.rs) read it with serde_json.
"""

import json
import sys

from samcli.lib.cfn_language_extensions.models import TemplateProcessingContext
from samcli.lib.cfn_language_extensions.pipeline import ProcessingPipeline
from samcli.lib.cfn_language_extensions.processors import ForEachProcessor, TemplateParsingProcessor
from samcli.yamlhelper import yaml_parse


def resolve_logical_names(node):
    """Folds `Ref: {Fn::Sub: Name}` and `Fn::GetAtt: [{Fn::Sub: Name}, ...]` (a loop's way of naming
    a resource it made) into plain names once the loop variable is substituted, as the transform does."""
    if isinstance(node, list):
        return [resolve_logical_names(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: resolve_logical_names(value) for key, value in node.items()}
    plain = lambda value: value["Fn::Sub"] if isinstance(value, dict) and list(value) == ["Fn::Sub"] and isinstance(value["Fn::Sub"], str) and "${" not in value["Fn::Sub"] else value
    if list(node) == ["Ref"]:
        node["Ref"] = plain(node["Ref"])
    if list(node) == ["Fn::GetAtt"] and isinstance(node["Fn::GetAtt"], list) and node["Fn::GetAtt"]:
        node["Fn::GetAtt"][0] = plain(node["Fn::GetAtt"][0])
    return node


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as file:
        context = TemplateProcessingContext(fragment=yaml_parse(file.read()))
    # No intrinsic resolver: the loops' collections are literal lists, and the rest stays unresolved.
    rendered = ProcessingPipeline([TemplateParsingProcessor(), ForEachProcessor()]).process_template(context)
    json.dump(resolve_logical_names(rendered), sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
