-- The follows read model: public profiles, who follows whom, and each
-- user's feed (the published articles of the authors they follow), kept by
-- fan-out on write: an article's publication adds a row to the feed of
-- each follower of its author, a follow adds the author's published
-- articles to the follower's feed. A page of a feed is then read in the
-- order of one index and stops at its end, however many authors the
-- viewer follows and however many articles they wrote.
--
-- Apply writes statement by statement, and a rebuild fills the tables
-- before it makes their secondary indexes: every statement of Apply finds
-- its rows by a primary key (follows and followings are one relation kept
-- both ways, author_articles is follow_articles by author), and only the
-- queries use the secondary indexes.

-- A user's public profile.
CREATE TABLE {{t "profiles"}} (
    id        TEXT PRIMARY KEY,
    username  TEXT NOT NULL,
    bio       TEXT NOT NULL DEFAULT '',
    avatar    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX {{t "profiles"}}_username_idx ON {{t "profiles"}} (LOWER(username));

-- Who follows whom, by followee (the followers of an author) ...
CREATE TABLE {{t "follows"}} (
    followee_id  TEXT NOT NULL,
    follower_id  TEXT NOT NULL,
    created_at   {{timestamp}} NOT NULL,
    PRIMARY KEY (followee_id, follower_id)
) {{withoutrowid}};
-- ... and by follower (whom a user follows).
CREATE TABLE {{t "followings"}} (
    follower_id  TEXT NOT NULL,
    followee_id  TEXT NOT NULL,
    PRIMARY KEY (follower_id, followee_id)
) {{withoutrowid}};

-- Every live article's author and publication ...
CREATE TABLE {{t "follow_articles"}} (
    id            TEXT PRIMARY KEY,
    author_id     TEXT NOT NULL,
    is_published  {{bool}} NOT NULL,
    published_at  {{timestamp}}
) {{withoutrowid}};
-- ... and the published ones by author, for a new follower's feed.
CREATE TABLE {{t "author_articles"}} (
    author_id     TEXT NOT NULL,
    published_at  {{timestamp}} NOT NULL,
    id            TEXT NOT NULL,
    PRIMARY KEY (author_id, published_at, id)
) {{withoutrowid}};

-- How many published articles each author has (their author_articles
-- rows): a feed's count is the sum over the authors its viewer follows.
CREATE TABLE {{t "author_counts"}} (
    author_id     TEXT PRIMARY KEY,
    n             {{bigint}} NOT NULL
) {{withoutrowid}};

-- The feeds: one row per published article of an author a viewer follows,
-- keyed in the order a page of a feed reads them (newest first, backwards).
-- A new article goes at the end of each follower's range of the key: a
-- fan-out writes one page of each feed, not one for each pair of follower
-- and author. The rows of one author in a feed are found by their key from
-- the author's articles (author_articles), as a follow adds them.
CREATE TABLE {{t "feed"}} (
    viewer_id     TEXT NOT NULL,
    published_at  {{timestamp}} NOT NULL,
    article_id    TEXT NOT NULL,
    author_id     TEXT NOT NULL,
    PRIMARY KEY (viewer_id, published_at, article_id)
) {{withoutrowid}};
