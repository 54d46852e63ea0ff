// The official TypeScript MCP SDK's client signing in with its own OAuth client
// (client_credentials): on the server's 401 it reads the protected resource metadata, finds
// the authorization server, gets a token and connects; then lists the tools and calls one.
// Prints {"tools": [names…], "call": {"isError", "text"}}; exits non-zero on any failure.
// Usage: node oauth_client.mjs URL CLIENT_ID TOOL ARGUMENTS_JSON
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ClientCredentialsProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";

const [url, clientId, tool, args] = process.argv.slice(2);
const authProvider = new ClientCredentialsProvider({ clientId, clientSecret: "not-checked-by-the-mock" });
const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider });
const client = new Client({ name: "fastn-auth-ts-oauth-check", version: "1.0.0" });
try {
  await client.connect(transport);
  const { tools } = await client.listTools();
  const result = await client.callTool({ name: tool, arguments: JSON.parse(args) });
  const text = result.content.map((part) => part.text ?? "").join("");
  console.log(JSON.stringify({ tools: tools.map((t) => t.name), call: { isError: !!result.isError, text } }));
  await client.close();
} catch (err) {
  console.error(`the TypeScript MCP SDK's OAuth client failed: ${err?.stack ?? err}`);
  process.exit(1);
}
