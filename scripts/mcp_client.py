"""Drives a fastn-auth MCP server with the official MCP SDK for Python (`mcp`), against the
Fastn emulator, and prints one JSON object per step with what the client saw and the
emulator's own request counts around it. The Rust tests (tests/mcp.rs, fastn-auth-cli's
tests) start the server and the emulator, run this and judge the output.

    mcp_client.py EMULATOR_ORIGIN stdio  TENANT COMMAND ARG...
    mcp_client.py EMULATOR_ORIGIN http   TENANT URL BEARER
    mcp_client.py EMULATOR_ORIGIN tenants URL BEARER_A BEARER_B
    mcp_client.py EMULATOR_ORIGIN broken URL BEARER
    mcp_client.py EMULATOR_ORIGIN approval URL BEARER
    mcp_client.py EMULATOR_ORIGIN approval-stdio COMMAND ARG...

`stdio` and `http` run, and judge, the whole scenario for one tenant: list, a valid call, a malformed
call, three calls for an app the tenant has not connected (the consent URL as a tool
error, approved by a user on the emulator's page, then the call again), and a call
answered by a URL elicitation that the user approves (legacy handshake on stdio, the
2026-07-28 protocol over HTTP). `tenants` checks two tenants on one HTTP server. `broken` breaks the tenant's Slack connection on the
emulator (its refresh failed) between two calls, then approves the consent link the second
call answers with, and calls again. `approval` calls a tool that needs the user's approval
from a client that cannot ask, one whose user declines the form, and one whose user approves.
"""

import asyncio
import html.parser
import json
import os
import sys
import urllib.parse
import urllib.request

import httpx2
import mcp.types as types
from mcp import Client, StdioServerParameters


def counts(origin):
    # The emulator's control API takes the space's key, which the server's environment has.
    headers = {"x-fastn-api-key": os.environ["FASTN_API_KEY"], "x-fastn-space-id": os.environ["FASTN_SPACE_ID"]}
    request = urllib.request.Request(f"{origin}/_emulator/stats", headers=headers)
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)["requests_to"]


class Form(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "hidden":
            self.fields[attrs["name"]] = attrs["value"]


def approve(url):
    """What a user does with the consent URL: opens the page and presses Approve."""
    with urllib.request.urlopen(url) as page:
        form = Form()
        form.feed(page.read().decode())
    body = urllib.parse.urlencode({**form.fields, "decision": "approve"}).encode()
    target = urllib.parse.urljoin(url, "/authorize")
    with urllib.request.urlopen(urllib.request.Request(target, data=body, method="POST")) as answer:
        return answer.status


def consent_page(url):
    with urllib.request.urlopen(url) as page:
        return page.read().decode()


def text_of(result):
    return "".join(block.text for block in result.content if isinstance(block, types.TextContent))


def url_in(text):
    words = [word.rstrip(".,") for word in text.split() if word.startswith("http")]
    return words[0] if words else None


steps = {}


def emit(step, **fields):
    steps[step] = fields
    print(json.dumps({"step": step, **fields}), flush=True)


def judge(kind):
    """What a user of the server would notice, from what the client saw and the emulator
    counted; a failure exits 1 naming it."""
    failures = []

    def expect(ok, what):
        if not ok:
            failures.append(what)

    listed = steps["list"]
    expect("slack_send_message" in listed["names"] and "hubspot_create_contact" in listed["names"],
           f"the manifest's tools are listed: {listed['names']}")
    expect(listed["send_required"] == ["channel", "text"], "the schema is the unwrapped one models get")
    valid = steps["valid"]
    expect(not valid["is_error"] and '"tenant":"acme"' in valid["text"], f"a valid call runs: {valid}")
    expect(valid["delta"] == {"executeTool": 1}, f"a valid call is exactly 1 execution: {valid['delta']}")
    malformed = steps["malformed"]
    expect(malformed["is_error"] and "/channel" in malformed["text"] and "text" in malformed["text"],
           f"a malformed call is an error naming the fields: {malformed}")
    expect(malformed["delta"] == {}, f"a malformed call sends nothing: {malformed['delta']}")
    unconnected = steps["unconnected"]
    urls = unconnected["urls"]
    expect(unconnected["is_error"] and urls[0] and len(set(urls)) == 1,
           f"3 calls for an app not connected give one consent URL: {urls}")
    expect(unconnected["inits"] == 1, f"exactly 1 flow for 3 calls: {unconnected['inits']}")
    expect("call `hubspot_create_contact` again" in unconnected["text"], "the error says to call again")
    expect("Tenant <strong>acme</strong>" in (unconnected["page"] or ""), "the flow is the tenant's")
    after = steps["after_approval"]
    expect(after["approved"] == 200 and not after["is_error"], f"approved, the call succeeds: {after}")
    expect(after["delta"] == {"executeTool": 1}, f"and starts no flow: {after['delta']}")
    declined = steps["declined"]
    expect(declined["asked"] == ["url"] and declined["is_error"] and "did not connect" in declined["text"],
           f"a declined elicitation is a tool error saying the tool did not run: {declined}")
    expect(declined["delta"].get("init") == 1 and declined["delta"].get("executeTool") == 1,
           f"declined: one flow started, the refused call only: {declined['delta']}")
    elicited = steps["elicited"]
    expect([ask["mode"] for ask in elicited["asked"]] == ["url"], f"one URL elicitation: {elicited['asked']}")
    expect(not elicited["is_error"] and '"connector":"google_sheets"' in elicited["text"],
           f"the elicited call runs once the user approved: {elicited}")
    if kind == "stdio":
        # Each stdio client starts a server process of its own, with flows of its own.
        expect(elicited["delta"].get("init") == 1, f"one flow for the elicited call: {elicited['delta']}")
    else:
        expect("init" not in elicited["delta"], f"the declined call's flow is reused: {elicited['delta']}")
    expected = "2025-11-25" if kind == "stdio" else "2026-07-28"
    expect(elicited["protocol"] == expected, f"the elicitation ran on {elicited['protocol']}, not {expected}")
    if failures:
        sys.exit("the MCP scenario failed:\n- " + "\n- ".join(failures))


def judge_approval(kind):
    """The approval scenario: never run unasked or declined, once on a yes to the form that
    shows the exact arguments."""
    step = steps["approval"]
    executed = lambda delta: delta.get("executeTool", 0)  # noqa: E731
    failures = [what for ok, what in [
        (step["unasked_error"] and executed(step["unasked_delta"]) == 0, "a client that cannot be asked runs nothing"),
        (step["declined_error"] and executed(step["declined_delta"]) == 0, "a declined approval runs nothing"),
        (not step["approved_error"] and executed(step["approved_delta"]) == 1, "an approved call runs exactly once"),
        ("approve me" in step["approved_text"], "the approved call's answer is the tool's"),
        (step["asked"] and all(ask["mode"] == "form" for ask in step["asked"]), "the user is asked with a form"),
        (all('{"channel":"C1","text":"approve me"}' in ask["message"] for ask in step["asked"]),
         "the form shows the exact arguments"),
        (step["protocol"] == ("2025-11-25" if kind == "stdio" else "2026-07-28"), f"the protocol is {step['protocol']}"),
    ] if not ok]
    if failures:
        sys.exit(f"the approval scenario failed: {step}\n- " + "\n- ".join(failures))


async def measured(origin, call):
    before = counts(origin)
    result = await call()
    after = counts(origin)
    delta = {name: after[name] - before[name] for name in after if after[name] != before[name]}
    return result, delta


def client(kind, target, bearer=None, **options):
    if kind == "stdio":
        # The server's configuration (FASTN_*) is this process's environment.
        stdio = StdioServerParameters(command=target[0], args=target[1:], env=dict(os.environ))
        return Client(stdio, **options)
    from mcp.client.streamable_http import streamable_http_client

    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {bearer}"})
    return Client(streamable_http_client(target, http_client=http), **options)


async def one_tenant(origin, kind, target, bearer=None):
    # stdio on the legacy handshake (the server's own elicitation/create), HTTP on 2026-07-28.
    mode = "legacy" if kind == "stdio" else "auto"
    async with client(kind, target, bearer, mode=mode) as plain:
        listed = await plain.list_tools()
        tools = {tool.name: tool for tool in listed.tools}
        send = tools["slack_send_message"]
        emit("list", names=sorted(tools), send_required=send.input_schema.get("required"),
             send_description=send.description)

        result, delta = await measured(origin, lambda: plain.call_tool(
            "slack_send_message", {"channel": "C1", "text": "from the MCP client"}))
        emit("valid", is_error=result.is_error, text=text_of(result), delta=delta)

        result, delta = await measured(origin, lambda: plain.call_tool("slack_send_message", {"channel": 5}))
        emit("malformed", is_error=result.is_error, text=text_of(result), delta=delta)

        urls = []
        before = counts(origin)
        for _ in range(3):
            result = await plain.call_tool("hubspot_create_contact", {"properties": {"email": "ada@example.com"}})
            urls.append(url_in(text_of(result)))
            last = result
        after = counts(origin)
        emit("unconnected", is_error=last.is_error, text=text_of(last), urls=urls,
             inits=after["init"] - before["init"], executions=after["executeTool"] - before["executeTool"],
             page=consent_page(urls[0]) if urls[0] else None)
        status = approve(urls[0])
        result, delta = await measured(origin, lambda: plain.call_tool(
            "hubspot_create_contact", {"properties": {"email": "ada@example.com"}}))
        emit("after_approval", approved=status, is_error=result.is_error, text=text_of(result), delta=delta)

    declined = []

    async def on_decline(context, params):
        declined.append(params.mode)
        return types.ElicitResult(action="decline")

    async with client(kind, target, bearer, mode=mode, elicitation_callback=on_decline) as declining:
        result, delta = await measured(origin, lambda: declining.call_tool(
            "google_sheets__get_values", {"spreadsheetId": "S1", "range": "A1:B2"}))
        emit("declined", asked=declined, is_error=result.is_error, text=text_of(result), delta=delta)

    asked = []

    async def on_elicit(context, params):
        asked.append({"mode": params.mode, "url": params.url, "message": params.message})
        approve(params.url)
        return types.ElicitResult(action="accept")

    async with client(kind, target, bearer, mode=mode, elicitation_callback=on_elicit) as eliciting:
        result, delta = await measured(origin, lambda: eliciting.call_tool(
            "google_sheets__get_values", {"spreadsheetId": "S1", "range": "A1:B2"}))
        emit("elicited", asked=asked, is_error=result.is_error, text=text_of(result), delta=delta,
             protocol=str(getattr(eliciting, "protocol_version", "")))


async def two_tenants(origin, url, bearer_a, bearer_b):
    async with client("http", url, bearer_a) as a, client("http", url, bearer_b) as b:
        result_a = await a.call_tool("slack_send_message", {"channel": "C1", "text": "a"})
        result_b = await b.call_tool("slack_send_message", {"channel": "C1", "text": "b"})
        url_b = url_in(text_of(result_b))
        again_a = await a.call_tool("slack_send_message", {"channel": "C1", "text": "a2"})
        emit("tenants", a_error=result_a.is_error, a_text=text_of(result_a), b_error=result_b.is_error,
             b_text=text_of(result_b), b_page=consent_page(url_b) if url_b else None,
             a_again=text_of(again_a))


def break_connection(origin, connector, tenant, kind):
    headers = {"x-fastn-api-key": os.environ["FASTN_API_KEY"], "x-fastn-space-id": os.environ["FASTN_SPACE_ID"],
               "content-type": "application/json"}
    body = json.dumps({"connector_id": connector, "tenant_id": tenant, "kind": kind}).encode()
    request = urllib.request.Request(f"{origin}/_emulator/connections/break", data=body, headers=headers)
    with urllib.request.urlopen(request) as answer:
        return answer.status


async def broken(origin, url, bearer):
    arguments = {"channel": "C1", "text": "hi"}
    async with client("http", url, bearer, mode="legacy") as plain:
        first = await plain.call_tool("slack_send_message", arguments)
        broke = break_connection(origin, "slack", "acme", "refresh_failed")
        second, delta = await measured(origin, lambda: plain.call_tool("slack_send_message", arguments))
        link = url_in(text_of(second))
        approved = approve(link) if link else None
        third = await plain.call_tool("slack_send_message", arguments)
        emit("broken", first_error=first.is_error, broke=broke, second_error=second.is_error,
             second_text=text_of(second), link=link, second_delta=delta, approved=approved,
             third_error=third.is_error, third_text=text_of(third))


async def approval(origin, kind, target, bearer=None):
    # Over HTTP on 2026-07-28 (an InputRequiredResult), over stdio on the legacy handshake
    # (the server's own elicitation/create).
    options = {"mode": "legacy"} if kind == "stdio" else {}
    arguments = {"channel": "C1", "text": "approve me"}
    call = lambda session: session.call_tool("slack_send_message", arguments)  # noqa: E731
    async with client(kind, target, bearer, **options) as plain:
        unasked, unasked_delta = await measured(origin, lambda: call(plain))
    asked = []

    def answering(action, content=None):
        async def on_elicit(context, params):
            asked.append({"mode": params.mode, "message": params.message,
                          "schema": params.requested_schema if params.mode == "form" else None})
            return types.ElicitResult(action=action, content=content)
        return on_elicit

    async with client(kind, target, bearer, elicitation_callback=answering("decline"), **options) as declining:
        declined, declined_delta = await measured(origin, lambda: call(declining))
    yes_callback = answering("accept", {"approve": True})
    async with client(kind, target, bearer, elicitation_callback=yes_callback, **options) as yes:
        approved, approved_delta = await measured(origin, lambda: call(yes))
        protocol = str(yes.protocol_version)
    emit("approval", unasked_error=unasked.is_error, unasked_text=text_of(unasked), unasked_delta=unasked_delta,
         declined_error=declined.is_error, declined_text=text_of(declined), declined_delta=declined_delta,
         approved_error=approved.is_error, approved_text=text_of(approved), approved_delta=approved_delta,
         asked=asked, protocol=protocol)


async def main():
    origin, kind, *rest = sys.argv[1:]
    if kind == "stdio":
        await one_tenant(origin, "stdio", rest[1:])
        judge("stdio")
    elif kind == "http":
        await one_tenant(origin, "http", rest[1], rest[2])
        judge("http")
    elif kind == "broken":
        await broken(origin, *rest)
    elif kind == "approval":
        await approval(origin, "http", rest[0], rest[1])
        judge_approval("http")
    elif kind == "approval-stdio":
        await approval(origin, "stdio", rest)
        judge_approval("stdio")
    else:
        await two_tenants(origin, *rest)


asyncio.run(main())
