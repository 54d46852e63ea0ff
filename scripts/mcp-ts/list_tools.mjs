// Lists a fastn-auth MCP server's tools with the official TypeScript MCP SDK, whose client
// validates every tool of the answer (an entry it refuses fails the whole list). Prints
// {"tools": [names…]} on success; exits non-zero with the SDK's error otherwise.
// Usage: node list_tools.mjs URL BEARER
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, bearer] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${bearer}` } },
});
const client = new Client({ name: "fastn-auth-ts-check", version: "1.0.0" });
try {
  await client.connect(transport);
  const names = [];
  let cursor;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    names.push(...page.tools.map((tool) => tool.name));
    cursor = page.nextCursor;
  } while (cursor);
  console.log(JSON.stringify({ tools: names }));
  await client.close();
} catch (err) {
  console.error(`the TypeScript MCP SDK refused the server's answer: ${err}`);
  process.exit(1);
}
