-- The comments read model: comments on articles, with what a list of them
-- needs to show (their authors' public names) and to decide who sees them
-- (their articles' authors and publication).

-- One row per comment of a live article. shown is false once the comment's
-- author is deleted or erased (an erased author's body is emptied at
-- once): the row stays, hidden, until the user-deletion cascade deletes
-- the comment, so that the cascade finds it.
CREATE TABLE {{t "comments"}} (
    id          TEXT PRIMARY KEY,
    article_id  TEXT NOT NULL,
    author_id   TEXT NOT NULL,
    body        TEXT NOT NULL,
    shown       {{bool}} NOT NULL,
    created_at  {{timestamp}} NOT NULL,
    version     {{bigint}} NOT NULL,
    -- number is the comment's number (1, 2, 3, ...), taken in log order by
    -- every comment.added, kept or not, so that a rebuild gives each
    -- comment the same number: the Conduit surface's integer comment ids.
    number      {{bigint}} NOT NULL
);
-- An article's comments, oldest first, read in index order; an author's
-- (the cascade, the export) likewise.
CREATE INDEX {{t "comments"}}_article_idx ON {{t "comments"}} (article_id, shown, created_at, id);
CREATE INDEX {{t "comments"}}_author_idx ON {{t "comments"}} (author_id, created_at, id);
CREATE UNIQUE INDEX {{t "comments"}}_number_idx ON {{t "comments"}} (number);

-- The last number a comment took.
CREATE TABLE {{t "comment_counters"}} (
    name   TEXT PRIMARY KEY,
    value  {{bigint}} NOT NULL
) {{withoutrowid}};

-- The live articles: who wrote them and whether they are published, which
-- decides who sees their comments.
CREATE TABLE {{t "comment_articles"}} (
    id            TEXT PRIMARY KEY,
    author_id     TEXT NOT NULL,
    is_published  {{bool}} NOT NULL
) {{withoutrowid}};

-- The public names of the users, as articles show their authors.
CREATE TABLE {{t "comment_authors"}} (
    id          TEXT PRIMARY KEY,
    username    TEXT NOT NULL,
    first_name  TEXT NOT NULL,
    last_name   TEXT NOT NULL
);
