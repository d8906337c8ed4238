-- The articles read model: articles with everything a list or detail view
-- shows, and the categories, tags and authors they refer to. Numbers are
-- assigned here in log order (1, 2, 3, ...), so a rebuild gives the same ones.
CREATE TABLE {{t "articles"}} (
    id            TEXT PRIMARY KEY,
    number        {{bigint}} NOT NULL,
    title         TEXT NOT NULL,
    slug          TEXT NOT NULL,
    content       TEXT NOT NULL,
    excerpt       TEXT NOT NULL,
    author_id     TEXT NOT NULL,
    category_id   TEXT,
    tags          TEXT NOT NULL,
    cover_image   TEXT NOT NULL,
    is_published  {{bool}} NOT NULL,
    published_at  {{timestamp}},
    created_at    {{timestamp}} NOT NULL,
    updated_at    {{timestamp}} NOT NULL,
    word_count    INTEGER NOT NULL,
    reading_time  INTEGER NOT NULL,
    version       {{bigint}} NOT NULL,
    -- How many users favor the article, kept as favorites come and go.
    favorites_count {{bigint}} NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX {{t "articles"}}_number_idx ON {{t "articles"}} (number);
CREATE UNIQUE INDEX {{t "articles"}}_slug_idx ON {{t "articles"}} (slug);
-- Lists read a page in index order and stop: one index per documented
-- ordering (each scanned either way for the two directions, the id breaking
-- ties), published articles and drafts apart (a list of both merges the
-- two), for every article and for one author's. A category's list has one
-- for the default ordering.
CREATE INDEX {{t "articles"}}_created_idx ON {{t "articles"}} (is_published, created_at, id);
CREATE INDEX {{t "articles"}}_updated_idx ON {{t "articles"}} (is_published, updated_at, id);
CREATE INDEX {{t "articles"}}_published_idx ON {{t "articles"}} (is_published, published_at, id);
CREATE INDEX {{t "articles"}}_title_idx ON {{t "articles"}} (is_published, {{sorttext "title"}}, id);
CREATE INDEX {{t "articles"}}_author_created_idx ON {{t "articles"}} (author_id, is_published, created_at, id);
CREATE INDEX {{t "articles"}}_author_updated_idx ON {{t "articles"}} (author_id, is_published, updated_at, id);
CREATE INDEX {{t "articles"}}_author_published_idx ON {{t "articles"}} (author_id, is_published, published_at, id);
CREATE INDEX {{t "articles"}}_author_title_idx ON {{t "articles"}} (author_id, is_published, {{sorttext "title"}}, id);
CREATE INDEX {{t "articles"}}_category_idx ON {{t "articles"}} (category_id, is_published, created_at, id);

-- One row per favorite (a user's mark on an article), keyed by the
-- favorite's stream id ("<user id>_<article id>"): whether a viewer favors
-- each article of a page is one lookup by key, and a user's favorites
-- (?favorited=) are read in the order of the article list (created_at, id),
-- published ones apart, from the user's index. The article's created_at
-- and is_published are copied here for that index.
CREATE TABLE {{t "article_favorites"}} (
    id                  TEXT PRIMARY KEY,
    user_id             TEXT NOT NULL,
    article_id          TEXT NOT NULL,
    article_created_at  {{timestamp}} NOT NULL,
    is_published        {{bool}} NOT NULL
) {{withoutrowid}};
CREATE INDEX {{t "article_favorites"}}_user_idx ON {{t "article_favorites"}} (user_id, is_published, article_created_at, article_id);
CREATE INDEX {{t "article_favorites"}}_article_idx ON {{t "article_favorites"}} (article_id);

-- One row per tag of an article, for the tag filter.
CREATE TABLE {{t "article_tags"}} (
    article_id  TEXT NOT NULL,
    tag_id      TEXT NOT NULL,
    PRIMARY KEY (article_id, tag_id)
) {{withoutrowid}};
CREATE INDEX {{t "article_tags"}}_tag_idx ON {{t "article_tags"}} (tag_id, article_id);

CREATE TABLE {{t "categories"}} (
    id           TEXT PRIMARY KEY,
    number       {{bigint}} NOT NULL,
    name         TEXT NOT NULL,
    slug         TEXT NOT NULL,
    description  TEXT NOT NULL,
    created_at   {{timestamp}} NOT NULL,
    updated_at   {{timestamp}} NOT NULL,
    version      {{bigint}} NOT NULL
);
CREATE UNIQUE INDEX {{t "categories"}}_number_idx ON {{t "categories"}} (number);
CREATE UNIQUE INDEX {{t "categories"}}_slug_idx ON {{t "categories"}} (slug);
CREATE INDEX {{t "categories"}}_name_idx ON {{t "categories"}} ({{sorttext "name"}}, id);

CREATE TABLE {{t "tags"}} (
    id          TEXT PRIMARY KEY,
    number      {{bigint}} NOT NULL,
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL,
    created_at  {{timestamp}} NOT NULL
);
CREATE UNIQUE INDEX {{t "tags"}}_number_idx ON {{t "tags"}} (number);
CREATE UNIQUE INDEX {{t "tags"}}_slug_idx ON {{t "tags"}} (slug);
CREATE INDEX {{t "tags"}}_name_idx ON {{t "tags"}} ({{sorttext "name"}}, id);

-- The public names of the users who write articles.
CREATE TABLE {{t "article_authors"}} (
    id          TEXT PRIMARY KEY,
    username    TEXT NOT NULL,
    first_name  TEXT NOT NULL,
    last_name   TEXT NOT NULL
);
CREATE INDEX {{t "article_authors"}}_username_idx ON {{t "article_authors"}} (LOWER(username));

-- How many articles each list scope holds, kept as events are applied so
-- that a list's count reads one row instead of counting the table: scope
-- "all", "author:<id>", "category:<id>" or "tag:<id>", each also with "|p"
-- for the published ones.
CREATE TABLE {{t "article_counts"}} (
    scope  TEXT PRIMARY KEY,
    n      {{bigint}} NOT NULL
) {{withoutrowid}};

-- The last number given to an article, a category and a tag.
CREATE TABLE {{t "article_counters"}} (
    name   TEXT PRIMARY KEY,
    value  {{bigint}} NOT NULL
) {{withoutrowid}};
