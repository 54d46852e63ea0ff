"""Fastn's own Python client `fastn-ai` runs tools, and its connections API (`auth.connect`,
`auth.status`), against a base URL (the emulator).

Usage: fastn_ai_tools.py BASE_URL API_KEY REGISTRY_JSON
`fastn-ai` hard-codes its hosts: the constants are pointed at BASE_URL here. The registry is
the one `fastn-auth tools sync` wrote. Prints one `key=value` line per fact the check reads.
"""

import json
import pathlib
import shutil
import sys
import tempfile

import httpx
import fastn
import fastn._auth_ns
import fastn.client


def main(base_url: str, api_key: str, registry: str) -> None:
    origin = base_url.removesuffix("/api")
    fastn.client.API_BASE_URL = f"{base_url}/ucl"
    fastn._auth_ns.CONNECTIONS_API_URL = f"{base_url}/connections"
    headers = {"x-fastn-api-key": api_key, "x-fastn-space-id": "mock-space"}
    connection = {"space_id": "mock-space", "connector_id": "slack", "tenant_id": "acme"}
    httpx.post(f"{origin}/_emulator/connections", json=connection, headers=headers).raise_for_status()

    home = pathlib.Path(tempfile.mkdtemp()) / ".fastn"
    home.mkdir()
    shutil.copy(registry, home / "registry.json")
    (home / "config.json").write_text(json.dumps({"api_key": api_key, "project_id": "mock-space"}))
    client = fastn.FastnClient(api_key=api_key, project_id="mock-space", config_path=str(home / "config.json"),
                               tenant_id="acme", max_retries=0)

    # Through the registry: fastn-ai groups the keyword arguments itself.
    answer = client.slack.send_message(channel="C1", text="from fastn-ai")
    print(f"proxy_tool={answer['tool']}")
    print(f"proxy_tenant={answer['tenant']}")
    print(f"proxy_parameters={json.dumps(answer['parameters'], sort_keys=True)}")

    # By tool id, with the parameters structured as the schema says.
    tool_id = json.loads(pathlib.Path(registry).read_text())["connectors"]["slack"]["tools"]["list_channels"]["toolId"]
    answer = client.execute(tool=tool_id, params={"query": {"limit": 2}}, tenant_id="acme")
    print(f"execute_tool={answer['tool']}")

    # The emulator checks parameters against the schema, as fastn-ai does not.
    try:
        client.execute(tool=tool_id, params={"query": {"limit": "two"}}, tenant_id="acme")
        print("invalid=accepted")
    except Exception as err:  # fastn-ai raises APIError with the status and body
        print(f"invalid_status={getattr(err, 'status_code', None)}")


    # getTools as fastn-ai's library reads it: ranked by the prompt, in every format it
    # converts to; and run(prompt), whose parameters Fastn's model fills in (scripted here).
    prompt = "send a message to the slack channel"
    for fmt in ("openai", "anthropic", "gemini", "bedrock"):
        listed = client.get_tools_for(prompt, format=fmt, limit=3)
        first = listed[0]
        name = first.get("name") or first.get("function", {}).get("name") or first.get("toolSpec", {}).get("name")
        print(f"get_tools_{fmt}={name}")
    scripted = {"prompt": prompt, "parameters": {"body": {"channel": "C1", "text": "from run"}}}
    httpx.put(f"{origin}/_emulator/prompts", json=scripted, headers=headers).raise_for_status()
    ran = client.run(prompt)
    print(f"run_tool={ran['tool']}")
    print(f"run_parameters={json.dumps(ran['parameters'], sort_keys=True)}")

    # The connections API: a flow whose user comes back to the app, approved through the
    # emulator's control API, then the status by id and by connector and tenant.
    started = client.auth.connect(connector="hubspot", tenant_id="acme", redirect_url="https://app.example.com/back")
    print(f"connect_status={started['status']}")
    print(f"connect_auth_url_is_the_emulators={started['auth_url'].startswith(origin + '/authorize')}")
    # Approved before any status poll: the emulator's auto-approval (on a poll) cannot race it.
    httpx.post(f"{origin}/_emulator/flows/{started['connection_id']}/approve", headers=headers).raise_for_status()
    print(f"status_after={client.auth.status(connection_id=started['connection_id'])['status']}")
    print(f"status_by_tenant={client.auth.status(connector='hubspot', tenant_id='acme')['status']}")


main(sys.argv[1], sys.argv[2], sys.argv[3])
