"""Validates the tool lists fastn-auth emits with the model providers' own SDKs, offline:
each file of DIR is `<registry>.<format>.json`, the output of `ToolSet::format` (what
`fastn-auth tools schema --format <format>` prints). Prints one line per file checked and
exits 1 on the first list a provider's code refuses, naming the tool and why.

    provider_validators.py DIR

- openai, openai-strict: `ChatCompletionToolParam` (pydantic TypeAdapter over the SDK's
  TypedDict); strict ones also unchanged by the SDK's own strictifier.
- openai-responses, openai-responses-strict: the Responses API's `FunctionToolParam`, likewise.
- anthropic: `ToolParam`, its `input_schema.type` "object".
- gemini: `google.genai.types.Tool` (a pydantic model: the SDK's own validation).
- bedrock: botocore's parameter validator on a Converse request carrying the list.
- every schema: Draft 2020-12 (`jsonschema`), every `$ref` resolvable.
"""

import copy
import json
import pathlib
import sys

import jsonschema
import pydantic
import referencing
import referencing.jsonschema


def fail(path, what):
    print(f"FAIL {path.name}: {what}")
    sys.exit(1)


def typed(path, kind, tools):
    adapter = pydantic.TypeAdapter(kind)
    for tool in tools:
        try:
            adapter.validate_python(tool, strict=False)
        except pydantic.ValidationError as err:
            fail(path, f"{kind.__name__} refuses {json.dumps(tool)[:200]}: {err}")


def strict_unchanged(path, schemas):
    from openai.lib._pydantic import _ensure_strict_json_schema

    for name, schema in schemas:
        rewritten = _ensure_strict_json_schema(copy.deepcopy(schema), path=(), root=copy.deepcopy(schema))
        if rewritten != schema:
            fail(path, f"openai's strictifier rewrites {name}: {json.dumps(rewritten)[:300]}")


def resolvable(path, name, schema):
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as err:
        fail(path, f"{name}'s schema is not Draft 2020-12: {err.message}")
    resource = referencing.Resource.from_contents(schema, default_specification=referencing.jsonschema.DRAFT202012)
    resolver = referencing.Registry().with_resource("urn:tool", resource).resolver("urn:tool")

    def walk(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                try:
                    resolver.lookup(ref)
                except referencing.exceptions.Unresolvable:
                    fail(path, f"{name}: `$ref` {ref} dangles")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)


def check(path):
    fmt = path.name.split(".")[1]
    data = json.loads(path.read_text())
    if fmt in ("openai", "openai-strict"):
        from openai.types.chat import ChatCompletionToolParam

        typed(path, ChatCompletionToolParam, data)
        schemas = [(tool["function"]["name"], tool["function"]["parameters"]) for tool in data]
        if fmt == "openai-strict":
            strict_unchanged(path, schemas)
    elif fmt in ("openai-responses", "openai-responses-strict"):
        from openai.types.responses import FunctionToolParam

        typed(path, FunctionToolParam, data)
        schemas = [(tool["name"], tool["parameters"]) for tool in data]
        if fmt == "openai-responses-strict":
            strict_unchanged(path, schemas)
    elif fmt == "anthropic":
        from anthropic.types import ToolParam

        typed(path, ToolParam, data)
        for tool in data:
            if tool["input_schema"].get("type") != "object":
                fail(path, f"{tool['name']}: input_schema.type is not object")
        schemas = [(tool["name"], tool["input_schema"]) for tool in data]
    elif fmt == "gemini":
        from google.genai import types

        try:
            parsed = types.Tool.model_validate(data)
        except Exception as err:  # the SDK crashes on some schemas instead of refusing them
            fail(path, f"google-genai's Tool refuses the list: {type(err).__name__}: {err}")
        declarations = parsed.function_declarations or []
        if len(declarations) != len(data["function_declarations"]):
            fail(path, "google-genai kept fewer declarations than were given")
        for declaration in declarations:
            if declaration.parameters_json_schema is None:
                fail(path, f"{declaration.name}: no parametersJsonSchema read")
        schemas = [(tool["name"], tool["parametersJsonSchema"]) for tool in data["function_declarations"]]
    elif fmt == "bedrock":
        import botocore.session
        import botocore.validate

        model = botocore.session.get_session().get_service_model("bedrock-runtime")
        shape = model.operation_model("Converse").input_shape
        request = {
            "modelId": "anthropic.claude-3-haiku-20240307-v1:0",
            "messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "toolConfig": {"tools": data},
        }
        report = botocore.validate.ParamValidator().validate(request, shape)
        if report.has_errors():
            fail(path, f"botocore refuses the Converse request: {report.generate_report()}")
        schemas = [(tool["toolSpec"]["name"], tool["toolSpec"]["inputSchema"]["json"]) for tool in data]
    else:
        fail(path, f"unknown format {fmt}")
    for name, schema in schemas:
        resolvable(path, name, schema)
    print(f"ok {path.name}: {len(schemas)} tools")


def main():
    files = sorted(pathlib.Path(sys.argv[1]).glob("*.json"))
    if not files:
        print("no tool lists given")
        sys.exit(1)
    for path in files:
        check(path)


main()
