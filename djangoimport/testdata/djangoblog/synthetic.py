"""Adds many rows to a SQLite database that make_db.py built, for measuring
the import's speed (docs/importing-from-django.md):

    python3 make_db.py big.sqlite3 tutorial
    python3 synthetic.py big.sqlite3 10000 100000

adds 10,000 users (each with the admin's PBKDF2 hash: the import does not
check passwords), 100,000 articles (half published, each with a category
and two tags), 20 categories and 200 tags, with plain SQL."""
import sqlite3
import sys

path, n_users, n_articles = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
db = sqlite3.connect(path)
c = db.cursor()
password = c.execute("SELECT password FROM blog_user WHERE username = 'admin'").fetchone()[0]
when = "2024-01-01 00:00:00"
first_user = c.execute("SELECT MAX(id) FROM blog_user").fetchone()[0] + 1
c.executemany(
    "INSERT INTO blog_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active,"
    " date_joined, bio, avatar) VALUES (?, 0, ?, 'First', 'Last', ?, 0, 1, ?, '', '')",
    [(password, "user%d" % i, "user%d@example.com" % i, when) for i in range(n_users)])
first_cat = c.execute("SELECT MAX(id) FROM blog_category").fetchone()[0] + 1
c.executemany("INSERT INTO blog_category (name, slug, description, created_at) VALUES (?, ?, '', ?)",
              [("Category %d" % i, "category-%d" % i, when) for i in range(20)])
first_tag = c.execute("SELECT MAX(id) FROM blog_tag").fetchone()[0] + 1
c.executemany("INSERT INTO blog_tag (name, slug) VALUES (?, ?)", [("tag %d" % i, "tag-%d" % i) for i in range(200)])
first_article = c.execute("SELECT MAX(id) FROM blog_article").fetchone()[0] + 1
content = "Some words of an article, " * 40
c.executemany(
    "INSERT INTO blog_article (id, title, slug, content, excerpt, author_id, category_id, cover_image, is_published,"
    " published_at, views, created_at, updated_at) VALUES (?, ?, ?, ?, '', ?, ?, '', ?, ?, 0, ?, ?)",
    [(first_article + i, "Article number %d" % i, "article-number-%d" % i, content, first_user + i % n_users,
      first_cat + i % 20, i % 2, when if i % 2 else None, when, when) for i in range(n_articles)])
c.executemany("INSERT INTO blog_article_tags (article_id, tag_id) VALUES (?, ?)",
              [(first_article + i, first_tag + (i + k) % 200) for i in range(n_articles) for k in (0, 1)])
db.commit()
