// The sdk-check flow on the SDK that @hey-api/openapi-ts generates with its default plugins
// (types, SDK functions, the fetch client). Its client, like openapi-fetch, puts every answer
// outside 2xx in `error`, typed as the operation's error responses (a Problem, thanks to the
// spec's `default`); a 304 has no body, so the status is read before the error.
import { client } from "./hey-api/client.gen";
import {
  createIntegratedAccount,
  createMcpServer,
  deleteMcpServer,
  getMcpServer,
  getOpenApiyaml,
  listMcpServers,
  rotateMcpServerToken,
  updateMcpServer,
} from "./hey-api/sdk.gen";
import type { Problem } from "./hey-api/types.gen";
import { base, fail, main, ok, same, status, token } from "./lib";

main(async () => {
  client.setConfig({ baseUrl: base, auth: () => token });

  const acc = await createIntegratedAccount({ body: { integration: "crm", tenant_id: "sdk-check" } });
  status("create account", acc, 201);
  if (!acc.data) fail("create account", acc);
  const accountId = acc.data.id;
  ok(`create account ${accountId}`);
  const account = { integrated_account_id: accountId };

  const created = await createMcpServer({
    path: account,
    body: { name: "sdk-check", config: { methods: ["List", "get"], tags: ["contacts"] } },
  });
  status("create MCP server", created, 201);
  if (!created.data?.token || !created.data.url || !same(created.data.config.methods, ["list", "get"])) fail("create MCP server", created);
  const srv = created.data;
  const firstETag = created.response.headers.get("ETag") ?? "";
  ok(`create MCP server ${srv.id} (ETag ${firstETag})`);
  const item = { integrated_account_id: accountId, id: srv.id };

  const renamed = await updateMcpServer({ path: item, body: { name: "sdk-check renamed" } });
  status("PATCH name", renamed, 200);
  if (renamed.data?.name !== "sdk-check renamed") fail("PATCH name", renamed);
  ok("PATCH name");

  const untagged = await updateMcpServer({
    path: item,
    headers: { "Content-Type": "application/merge-patch+json" },
    body: { config: { tags: null } },
  });
  status("PATCH tags null", untagged, 200);
  if (!untagged.data || untagged.data.config.tags !== undefined || !untagged.data.config.methods) fail("PATCH tags null", untagged);
  const etag = untagged.response.headers.get("ETag") ?? "";
  ok("PATCH tags null (merge patch): tags removed, methods kept");

  const cached = await getMcpServer({ path: item, headers: { "If-None-Match": etag } });
  if (cached.response.status !== 304) fail("GET If-None-Match (want 304)", cached);
  ok(`GET If-None-Match ${etag}: 304, not modified`);

  const stale = await updateMcpServer({ path: item, headers: { "If-Match": firstETag }, body: { name: "lost update" } });
  status("PATCH stale If-Match", stale, 412);
  const pf: Problem | undefined = stale.error;
  if (pf?.status !== 412) fail("PATCH stale If-Match: a problem", stale);
  ok(`PATCH If-Match ${firstETag} (stale): 412 problem "${pf.title}", current ETag ${stale.response.headers.get("ETag")}`);

  const second = await createMcpServer({ path: account, body: { name: "sdk-check 2" } });
  status("create a second MCP server", second, 201);
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let page = 1; page <= 3; page++) {
    const list = await listMcpServers({ path: account, query: { limit: 1, next_cursor: cursor } });
    status(`list page ${page}`, list, 200);
    if (!list.data) fail(`list page ${page}`, list);
    seen.push(...list.data.result.map((s) => s.id));
    if (list.data.next_cursor === null) break;
    cursor = list.data.next_cursor;
  }
  if (!same(seen, [srv.id, second.data?.id ?? ""])) throw new Error(`list: pages of one held ${seen}`);
  ok(`list with limit 1: two pages, ${seen}`);

  const rotated = await rotateMcpServerToken({ path: item });
  status("rotate", rotated, 200);
  if (!rotated.data?.token || rotated.data.token === srv.token) fail("rotate: a new token", rotated);
  ok("rotate: a new token");

  const deleted = await deleteMcpServer({ path: item });
  status("delete", deleted, 200);
  const gone = await getMcpServer({ path: item });
  status("GET after delete", gone, 404);
  if (gone.error?.status !== 404) fail("GET after delete: a problem", gone);
  ok("delete, then GET: 404 problem");

  const invalid = await createMcpServer({ path: account, body: { name: "x", config: { tags: ["contacts", "not a tag!"] } } });
  status("validation error", invalid, 400);
  const pointer = invalid.error?.errors?.[0]?.pointer;
  if (pointer !== "/config/tags/1") fail("validation error: pointer /config/tags/1", invalid);
  ok(`validation error: 400 problem, pointer ${pointer} (${invalid.error?.errors?.[0]?.detail})`);

  const expired = await createMcpServer({
    path: account,
    body: { name: "x", expires_at: new Date(Date.now() - 3600_000).toISOString() },
  });
  status("past expiry", expired, 422);
  if (expired.error?.errors?.[0]?.pointer !== "/expires_at") fail("past expiry: pointer /expires_at", expired);
  ok(`validation error: 422 problem, pointer ${expired.error.errors[0].pointer}`);

  // The document is text (application/yaml, type: string); the fetch client picks its parser from
  // the media type and reads application/* other than JSON as a Blob unless told.
  const doc = await getOpenApiyaml({ parseAs: "text" });
  status("GET /openapi.yaml", doc, 200);
  if (typeof doc.data !== "string" || !doc.data.startsWith("openapi: 3.0.3")) fail("GET /openapi.yaml as text", doc);
  ok(`GET /openapi.yaml: ${doc.data.length} characters of YAML text`);
});
