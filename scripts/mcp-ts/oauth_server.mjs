// A local OAuth 2 authorization server (oauth2-mock-server, from npm) for the MCP
// authorization tests: it issues RS256 JWTs from its own JWKS, by the client_credentials
// grant, each for AUDIENCE and with the client's id as `sub` (the MCP server's tenant).
// Prints one JSON line — {"issuer", "tokens": {valid, other_audience, expired, other_key,
// alg_none}}, tokens of acme made by the same library — then serves until stdin closes.
// Usage: node oauth_server.mjs AUDIENCE
import { OAuth2Issuer, OAuth2Server } from "oauth2-mock-server";

const [audience] = process.argv.slice(2);
const server = new OAuth2Server();
await server.issuer.keys.generate("RS256");
await server.start(0, "127.0.0.1");
server.issuer.url = `http://127.0.0.1:${server.address().port}`;

const clientOf = (req) => {
  const basic = (req.headers.authorization ?? "").match(/^Basic (.+)$/);
  if (basic) return decodeURIComponent(Buffer.from(basic[1], "base64").toString().split(":")[0]);
  return req.body?.client_id;
};
server.service.on("beforeTokenSigning", (token, req) => {
  token.payload.aud = audience;
  token.payload.sub = clientOf(req);
});

const of = (issuer, claims, expiresIn) =>
  issuer.buildToken({ expiresIn, scopesOrTransform: (_header, payload) => Object.assign(payload, claims) });
// Another key, unknown to the issuer's JWKS: a token signed by it claims the issuer.
const impostor = new OAuth2Issuer();
impostor.url = server.issuer.url;
await impostor.keys.generate("RS256");
const b64 = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
const now = Math.floor(Date.now() / 1000);
const tokens = {
  valid: await of(server.issuer, { aud: audience, sub: "acme" }),
  other_audience: await of(server.issuer, { aud: "another-server", sub: "acme" }),
  expired: await of(server.issuer, { aud: audience, sub: "acme" }, -3600),
  other_key: await of(impostor, { aud: audience, sub: "acme" }),
  alg_none: `${b64({ alg: "none", typ: "JWT" })}.${b64({ iss: server.issuer.url, aud: audience, sub: "acme", exp: now + 3600 })}.`,
};
console.log(JSON.stringify({ issuer: server.issuer.url, tokens }));
process.stdin.resume();
process.stdin.on("end", async () => {
  await server.stop();
  process.exit(0);
});
