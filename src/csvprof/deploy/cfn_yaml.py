"""Load a CloudFormation YAML template into plain JSON-form data.

The short-form tags (`!Ref`, `!GetAtt`, `!Sub`, `!ImportValue`, ...) become their long
forms (`{"Ref": ...}`, `{"Fn::GetAtt": [...]}`), so code and tests read a template the way
CloudFormation does. Needs PyYAML (the test and lint environments have it; the Lambda
package and the deploy command do not use this module).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_FUNCTIONS = (
    "Base64",
    "Cidr",
    "FindInMap",
    "GetAZs",
    "ImportValue",
    "Join",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "And",
    "Equals",
    "If",
    "Not",
    "Or",
)


class CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's intrinsic-function tags."""


def _construct(node: yaml.Node, loader: CloudFormationLoader) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise yaml.constructor.ConstructorError(None, None, f"unexpected node {node!r}", node.start_mark)


def _function(name: str) -> Any:
    def construct(loader: CloudFormationLoader, node: yaml.Node) -> dict[str, Any]:
        return {f"Fn::{name}": _construct(node, loader)}

    return construct


def _ref(loader: CloudFormationLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Ref": _construct(node, loader)}


def _condition(loader: CloudFormationLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Condition": _construct(node, loader)}


def _get_att(loader: CloudFormationLoader, node: yaml.Node) -> dict[str, Any]:
    value = _construct(node, loader)
    # `!GetAtt Resource.Attribute` is the string form of ["Resource", "Attribute"].
    return {"Fn::GetAtt": value.split(".", 1) if isinstance(value, str) else value}


CloudFormationLoader.add_constructor("!Ref", _ref)
CloudFormationLoader.add_constructor("!Condition", _condition)
CloudFormationLoader.add_constructor("!GetAtt", _get_att)
for _name in _FUNCTIONS:
    CloudFormationLoader.add_constructor(f"!{_name}", _function(_name))


def load_template(path: Path) -> dict[str, Any]:
    loaded = yaml.load(path.read_text(), Loader=CloudFormationLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} is not a template (a mapping)")
    return loaded
