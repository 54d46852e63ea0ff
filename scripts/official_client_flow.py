"""One whole flow of the official Python client `fastn-auth` against a base URL.

Usage: official_client_flow.py BASE_URL API_KEY
Prints one `key=value` line per fact the Rust test checks.
"""

import asyncio
import sys

from fastn_auth import FastnAuth, GetCredentialsOptions, PollOptions


async def main(base_url: str, api_key: str) -> None:
    client = FastnAuth(space_id="space-py", api_key=api_key, base_url=base_url)
    session = await client.initialize(connector_id="salesforce", tenant_id="acme")
    print(f"redirect_url={session.redirect_url}")
    result = await session.wait_for_completion(PollOptions(interval=0.05, timeout=10))
    print(f"status={result.status.value}")
    print(f"instance_url={result.credentials.instance_url}")
    print(f"has_access_token={bool(result.credentials.access_token)}")
    again = await client.get_credentials(GetCredentialsOptions(connector_id="salesforce", tenant_id="acme"))
    print(f"expires_in={again.expires_in}")


asyncio.run(main(sys.argv[1], sys.argv[2]))
