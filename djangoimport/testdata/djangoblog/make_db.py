"""Builds a database of the tutorial's Django blog with Django itself, for
Inkwell's import tests: users made by create_user and create_superuser
(Django's own password hashes), categories, tags, published articles and
drafts.

    python3 make_db.py DATABASE SCENARIO

DATABASE is a SQLite file or a postgres:// URL; SCENARIO is "tutorial"
(the database from nothing), "delta" (rows added to a tutorial database)
or "violations" (rows that break Inkwell's rules; SQLite only). It prints,
as JSON, what Django holds afterwards (passwords in clear, for the test to
log in with), read back through Django's ORM."""
import json
import os
import sys
from datetime import datetime, timezone
from urllib.parse import urlparse

import django
from django.conf import settings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def database_settings(target):
    if target.startswith("postgres://") or target.startswith("postgresql://"):
        u = urlparse(target)
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": u.path.lstrip("/"),
            "USER": u.username or "",
            "PASSWORD": u.password or "",
            "HOST": u.hostname or "",
            "PORT": str(u.port or ""),
        }
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": target}


target, scenario = sys.argv[1], sys.argv[2]
settings.configure(
    DATABASES={"default": database_settings(target)},
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "blog"],
    AUTH_USER_MODEL="blog.User",
    USE_TZ=True,
    TIME_ZONE="UTC",
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    # Django's default hashers, its default (PBKDF2) first; argon2 and
    # bcrypt_sha256 (at lower costs, see blog/hashers.py) for the accounts
    # made with them below.
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "blog.hashers.CheapArgon2PasswordHasher",
        "blog.hashers.CheapBCryptSHA256PasswordHasher",
    ],
)
django.setup()

from django.core.management import call_command  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.db import connection  # noqa: E402
from blog.models import Article, Category, Tag, User  # noqa: E402

call_command("migrate", verbosity=0)
passwords = {}


def at(*args):
    return datetime(*args, tzinfo=timezone.utc)


def user(username, email, password, joined, superuser=False, **extra):
    if superuser:
        u = User.objects.create_superuser(username, email, password, **extra)
    else:
        u = User.objects.create_user(username, email, password, **extra)
    User.objects.filter(pk=u.pk).update(date_joined=joined)
    passwords[username] = password
    return u


def article(author, title, slug, content, created, category=None, tags=(), published=None, **extra):
    a = Article.objects.create(author=author, title=title, slug=slug, content=content, category=category,
                               is_published=published is not None, published_at=published, **extra)
    a.tags.set(tags)
    Article.objects.filter(pk=a.pk).update(created_at=created)
    return a


if scenario == "tutorial":
    admin = user("admin", "admin@example.com", "admin_password_123", at(2023, 1, 2, 3, 4, 5, 123456), superuser=True)
    editor = user("editor", "editor@example.com", "editor_password_123", at(2023, 2, 1, 9, 0), is_staff=True,
                  first_name="Eddie", last_name="Tor")
    john = user("johndoe", "john@example.com", "secure_password_123", at(2023, 3, 1, 12, 30), first_name="John",
                last_name="Doe", bio="Writes about Go.", avatar="https://example.com/john.png")
    jane = user("jane", "jane@example.com", "jane_password_123", at(2023, 4, 1, 8, 15, 30))
    sleeper = user("sleeper", "sleeper@example.com", "sleeper_password_123", at(2023, 5, 1), is_active=False)
    # Made without a password: Django gives it an unusable one ("!...").
    ghost = User.objects.create_user("ghost", "ghost@example.com")
    User.objects.filter(pk=ghost.pk).update(date_joined=at(2023, 6, 1))
    # Accounts whose hashes other hashers of Django's wrote.
    for name, hasher in [("argo", "argon2"), ("bea", "bcrypt_sha256"), ("shan", "pbkdf2_sha1")]:
        u = user(name, name + "@example.com", name + "_password_123", at(2023, 7, 1))
        User.objects.filter(pk=u.pk).update(password=make_password(name + "_password_123", hasher=hasher))

    tutorials = Category.objects.create(name="Tutorials", slug="tutorials", description="Step by step")
    news = Category.objects.create(name="News", slug="news")
    Category.objects.filter(pk=tutorials.pk).update(created_at=at(2023, 1, 5))
    Category.objects.filter(pk=news.pk).update(created_at=at(2023, 1, 6))
    go = Tag.objects.create(name="Go", slug="go")
    dj = Tag.objects.create(name="Django", slug="django")
    ev = Tag.objects.create(name="Event sourcing", slug="event-sourcing")

    article(john, "My Article", "my-article", "Article content...", at(2024, 1, 2, 3, 4, 5, 654321),
            category=tutorials, tags=[go, ev], published=at(2024, 1, 3, 10, 0))
    article(jane, "A draft of Jane's", "a-draft-of-janes", "Not yet.\n\nSecond paragraph.", at(2024, 2, 1))
    article(editor, "Release notes", "release-notes", "What changed this month, in some words.",
            at(2024, 3, 1, 7, 45), category=news, tags=[dj], published=at(2024, 3, 2, 7, 45),
            excerpt="What changed.", cover_image="https://example.com/cover.jpg")
    article(john, "Johns draft", "johns-draft", "Draft text", at(2024, 4, 1), category=tutorials, tags=[go, dj])
elif scenario == "delta":
    tutorials = Category.objects.get(slug="tutorials")
    newcomer = user("newcomer", "newcomer@example.com", "newcomer_password_123", at(2025, 1, 1))
    rust = Tag.objects.create(name="Rust", slug="rust")
    article(newcomer, "Hello from the newcomer", "hello-from-the-newcomer", "Hello.", at(2025, 1, 2),
            category=tutorials, tags=[rust], published=at(2025, 1, 2, 1, 0))
elif scenario == "violations":
    ok = user("fine", "fine@example.com", "fine_password_123", at(2023, 1, 1))
    user("Bob", "bob@example.com", "bob_password_123", at(2023, 1, 2))
    bob = user("bob", "bob2@example.com", "bob_password_123", at(2023, 1, 3))
    user("carol", "Carol@Example.com", "carol_password_123", at(2023, 1, 4))
    user("carol2", "carol@example.com", "carol_password_123", at(2023, 1, 5))
    user("zoe", "zoe@example.com", "zoe_password_123", at(2023, 1, 6), first_name="Zoe\u200b")
    legacy = user("legacy", "legacy@example.com", "legacy_password_123", at(2023, 1, 7))
    User.objects.filter(pk=legacy.pk).update(password="md5$salt$0123456789abcdef0123456789abcdef")

    Tag.objects.create(name="Go", slug="go")
    Tag.objects.create(name="go", slug="go-lang")
    article(ok, "T" * 201, "too-long", "x", at(2024, 1, 1))
    article(ok, "Same slug", "Same-Slug", "x", at(2024, 1, 2))
    article(ok, "Same slug again", "same-slug", "x", at(2024, 1, 3))
    article(ok, "Underscored", "under_scored", "x", at(2024, 1, 4))
    article(bob, "By bob", "by-bob", "x", at(2024, 1, 5))
    orphan = article(ok, "Orphan", "orphan", "x", at(2024, 1, 6))
    # What an ImageField would keep: a path under MEDIA_URL.
    article(ok, "Covered", "covered", "x", at(2024, 1, 7), cover_image="covers/a.jpg")
    connection.disable_constraint_checking()
    with connection.cursor() as c:
        c.execute("UPDATE blog_article SET author_id = 999 WHERE id = %s", [orphan.pk])
    connection.enable_constraint_checking()
else:
    sys.exit("unknown scenario " + scenario)


def iso(t):
    return t.astimezone(timezone.utc).isoformat() if t else None


out = {
    "users": [{"id": u.pk, "username": u.username, "email": u.email, "first_name": u.first_name,
               "last_name": u.last_name, "bio": u.bio, "avatar": u.avatar, "is_active": u.is_active,
               "is_staff": u.is_staff, "is_superuser": u.is_superuser, "date_joined": iso(u.date_joined),
               "hasher": u.password.split("$", 1)[0] if u.has_usable_password() else "unusable",
               "password": passwords.get(u.username)} for u in User.objects.order_by("pk")],
    "categories": [{"id": c.pk, "name": c.name, "slug": c.slug, "description": c.description,
                    "created_at": iso(c.created_at)} for c in Category.objects.order_by("pk")],
    "tags": [{"id": t.pk, "name": t.name, "slug": t.slug} for t in Tag.objects.order_by("pk")],
    "articles": [{"id": a.pk, "title": a.title, "slug": a.slug, "content": a.content, "excerpt": a.excerpt,
                  "author": a.author.username if User.objects.filter(pk=a.author_id).exists() else None,
                  "category": a.category.slug if a.category else None,
                  "tags": sorted(t.slug for t in a.tags.all()), "cover_image": a.cover_image,
                  "is_published": a.is_published, "published_at": iso(a.published_at),
                  "created_at": iso(a.created_at)} for a in Article.objects.order_by("pk")],
}
json.dump(out, sys.stdout, indent=1)
