// The README's walkthrough through a client made from Inkwell's OpenAPI
// document: the types by openapi-typescript (schema.d.ts, generated from the
// document the server serves), the calls by openapi-fetch. Type-checked with
// tsc's strict options, then run: node walk.js <base URL> <staff access token>.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

// What the walkthrough uses of Node.js (no @types/node for two names).
declare const process: { argv: string[]; exit(code: number): never };

function arg(i: number): string {
  const a = process.argv[2 + i];
  if (a === undefined) throw new Error("usage: node walk.js <base URL> <staff access token>");
  return a;
}
const base = arg(0);
const admin = arg(1);
type Article = components["schemas"]["Article"];
type Category = components["schemas"]["Category"];

// A write answers 201 with what it made, or 202 (Accepted: the event is in
// the log, the read model not there yet) with its id: a client tells them
// apart by their fields.
function made<T extends object>(what: string, data: T | components["schemas"]["Accepted"] | undefined, field: keyof T): T {
  if (data === undefined || !(field in data)) throw new Error(`${what}: not answered with what it made: ${JSON.stringify(data)}`);
  return data as T;
}
const api = createClient<paths>({ baseUrl: base });
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

function check(what: string, res: Response, want: number, error?: unknown): void {
  if (res.status !== want) {
    throw new Error(`${what}: status ${res.status}, want ${want}: ${JSON.stringify(error)}`);
  }
}

async function walk(): Promise<void> {
  const reg = await api.POST("/api/auth/register/", {
    body: { username: "janedoe", email: "jane@example.com", password: "secure_password_123", first_name: "Jane", last_name: "Doe" },
  });
  check("register", reg.response, 201, reg.error);

  const login = await api.POST("/api/auth/login/", { body: { username: "janedoe", password: "secure_password_123" } });
  check("login", login.response, 200, login.error);
  if (!login.data) throw new Error("login: no tokens");
  let access = login.data.access_token;

  const me = await api.GET("/api/auth/me/", { headers: bearer(access) });
  check("me", me.response, 200, me.error);
  if (me.data?.username !== "janedoe") throw new Error(`me: ${JSON.stringify(me.data)}`);

  const fresh = await api.POST("/api/auth/refresh/", { body: { refresh_token: login.data.refresh_token } });
  check("refresh", fresh.response, 200, fresh.error);
  if (!fresh.data) throw new Error("refresh: no tokens");
  access = fresh.data.access_token;

  const cat = await api.POST("/api/categories/", { headers: bearer(admin), body: { name: "Guides", description: "Step by step" } });
  check("create category", cat.response, 201, cat.error);
  const category = made<Category>("create category", cat.data, "number");
  const tag = await api.POST("/api/tags/", { headers: bearer(admin), body: { name: "TypeScript" } });
  check("create tag", tag.response, 201, tag.error);

  // The README's own request: a draft in category 1, then published.
  const created = await api.POST("/api/article/", {
    headers: bearer(access),
    body: { title: "My Article", content: "Article content...", category: 1 },
  });
  check("create article", created.response, 201, created.error);
  const article = made<Article>("create article", created.data, "slug");
  if (article.category?.name !== category.name || article.is_published) {
    throw new Error(`create article: ${JSON.stringify(article)}`);
  }
  const published = await api.POST("/api/articles/{ref}/publish/", { params: { path: { ref: "1" } }, headers: bearer(access) });
  check("publish article", published.response, 200, published.error);

  const list = await api.GET("/api/articles/", {});
  check("list articles", list.response, 200, list.error);
  if (list.data?.items[0]?.slug !== "my-article") throw new Error(`list articles: ${JSON.stringify(list.data)}`);

  const got = await api.GET("/api/articles/{ref}/", { params: { path: { ref: "my-article" } } });
  check("get article", got.response, 200, got.error);

  const updated = await api.PATCH("/api/articles/{ref}/", {
    params: { path: { ref: article.slug } }, headers: bearer(access), body: { title: "My Article, revised", tags: ["TypeScript"] },
  });
  check("update article", updated.response, 200, updated.error);
  const revised = made<Article>("update article", updated.data, "title");
  if (revised.title !== "My Article, revised" || revised.tags[0]?.slug !== "typescript") {
    throw new Error(`update article: ${JSON.stringify(revised)}`);
  }

  const deleted = await api.DELETE("/api/articles/{ref}/", { params: { path: { ref: article.id } }, headers: bearer(access) });
  check("delete article", deleted.response, 204, deleted.error);
  console.log("walkthrough done");
}

walk().catch((err: unknown) => {
  console.error("walk:", err);
  process.exit(1);
});
