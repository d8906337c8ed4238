package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"inkwell/api"
	"inkwell/auth"
	"inkwell/commands"
	"inkwell/djangoimport"
	"inkwell/domain"
)

// importCommand groups the commands that bring data from elsewhere.
func (a *app) importCommand() *ffcli.Command {
	return a.group("inkwell import", "inkwell import django|lookup [flags]",
		"django: import the database of the tutorial's Django blog; lookup: the Inkwell id of an imported row",
		a.importDjangoCommand(), a.importLookupCommand())
}

// importDjangoCommand is "inkwell import django --database ...".
func (a *app) importDjangoCommand() *ffcli.Command {
	var database string
	var tables djangoimport.Tables
	var opts djangoimport.Options
	return a.command(leaf{
		path:  "inkwell import django",
		usage: "inkwell import django --database FILE|postgres://... [flags]",
		help:  "import the users, categories, tags and articles of the tutorial's Django database",
		long: "Rows that break Inkwell's rules are listed with their key and the rule, and skipped.\n" +
			"Run again, it imports only the rows no import recorded. It works whether or not a\n" +
			"server runs on the same data directory. See docs/importing-from-django.md.",
		groups: eventLogGroups,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&database, "database", "", "the Django database: a SQLite file, or a postgres:// URL (required)")
			fs.StringVar(&opts.Source, "source", djangoimport.SourceName, "the name of this Django database among those imported into one log (lower-case letters and digits)")
			fs.IntVar(&opts.Workers, "workers", 4, "rows of a table recorded at once (1: in the order of their ids, so that articles are numbered in that order)")
			fs.BoolVar(&opts.DryRun, "dry-run", false, "read and check everything, print the report and the counts, record nothing")
			fs.BoolVar(&opts.KeepFirst, "keep-first", false, "of rows that collide (username, email, slug, tag name), import the one with the lowest id")
			fs.StringVar(&opts.MediaURL, "media-url", "", "prefix a cover image that is a path (a Django ImageField's) with this URL, such as https://blog.example.com/media/")
			fs.BoolVar(&opts.FixSlugs, "fix-slugs", false, "replace slugs Inkwell does not accept (upper case, underscores) by their normalized form")
			fs.StringVar(&tables.App, "app", "", "the Django app label, the prefix of its tables (default: the app with an <app>_article table)")
			fs.StringVar(&tables.User, "user-table", "", "the user table (default: <app>_user if it exists, else auth_user)")
			fs.StringVar(&tables.Category, "category-table", "", "the category table (default: <app>_category)")
			fs.StringVar(&tables.Tag, "tag-table", "", "the tag table (default: <app>_tag)")
			fs.StringVar(&tables.Article, "article-table", "", "the article table (default: <app>_article)")
			fs.StringVar(&tables.ArticleTag, "article-tags-table", "", "the articles' many-to-many table with tags (default: <app>_article_tags)")
		},
		run: func(ctx context.Context, cfg Config) error {
			if database == "" {
				return usagef("import django: --database is required")
			}
			if opts.Workers < 1 || opts.Workers > 64 {
				return usagef("import django: --workers must be 1 to 64, not %d", opts.Workers)
			}
			opts.Progress = a.stderr
			return importDjango(ctx, cfg, database, tables, opts, a.stdout, a.stderr)
		},
	})
}

// importDjango runs the import and prints its report and counts.
func importDjango(ctx context.Context, cfg Config, database string, tables djangoimport.Tables, opts djangoimport.Options, stdout, stderr io.Writer) error {
	src, err := djangoimport.Open(ctx, database)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := src.Discover(ctx, tables); err != nil {
		return err
	}
	t := src.Tables
	fmt.Fprintf(stdout, "Django tables: users %s, categories %s, tags %s, articles %s (tags %s)\n", t.User, t.Category, t.Tag, t.Article, t.ArticleTag)
	opts.Meta = domain.Meta{ActorID: domain.SystemActorID, CorrelationID: "import-django"}
	return withStore(ctx, cfg, stderr, func(ops operations) error {
		imports := commands.NewImports(commands.Deps{Store: ops.store, Hasher: auth.NewHasher(cfg.passwordParams(), 1), Logger: ops.log})
		res, err := djangoimport.Import(ctx, src, imports, opts)
		if res != nil {
			printImport(stdout, res, opts.DryRun)
		}
		return err
	})
}

// printImport prints the report, the notices and the counts of an import.
func printImport(w io.Writer, res *djangoimport.Result, dryRun bool) {
	if len(res.Problems) > 0 {
		fmt.Fprintf(w, "\n%d problems (those rows are not imported, unless the line says otherwise):\n", len(res.Problems))
		for _, p := range res.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	if len(res.Notices) > 0 {
		fmt.Fprintf(w, "\n%d notices (those rows are imported):\n", len(res.Notices))
		for _, p := range res.Notices {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	verb := "imported"
	if dryRun {
		verb = "would import"
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "table\trows\t%s\talready imported\tskipped\t\n", verb)
	for _, c := range res.Counts {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t\n", c.Table, c.Read, c.Imported, c.Existed, c.Skipped)
	}
	tw.Flush()
	if dryRun {
		fmt.Fprintln(w, "\nDry run: nothing was recorded.")
	} else if n := res.Events(); res.Elapsed > 0 {
		fmt.Fprintf(w, "\nImported %d rows in %s (%.0f rows/s).\n", n, res.Elapsed.Round(1e7), float64(n)/res.Elapsed.Seconds())
	}
	if res.MaxPBKDF2Iterations > 0 {
		fmt.Fprintf(w, "Password hashes: pbkdf2_sha256 of up to %d iterations. Run every server with\n"+
			"INKWELL_DJANGO_PASSWORD_ITERATIONS=%d so that a login's time does not tell which accounts hold one.\n",
			res.MaxPBKDF2Iterations, res.MaxPBKDF2Iterations)
	}
}

// importLookupCommand is "inkwell import lookup": the Inkwell id of the row
// a Django id named.
func (a *app) importLookupCommand() *ffcli.Command {
	var typ, ids, source string
	return a.command(leaf{
		path:   "inkwell import lookup",
		usage:  "inkwell import lookup --type user|article|category|tag --ids 1,2,3",
		help:   "print the Inkwell id of each imported Django row",
		long:   "Prints one line per id: the Django id and the Inkwell id (\"-\" for a row no import recorded).",
		groups: eventLogGroups,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&typ, "type", "article", "what the ids are: user, article, category or tag")
			fs.StringVar(&source, "source", djangoimport.SourceName, "the --source the import was given")
			fs.StringVar(&ids, "ids", "", "the Django ids to look up, separated by commas (required)")
		},
		run: func(ctx context.Context, cfg Config) error {
			var keys []string
			for _, k := range strings.Split(ids, ",") {
				if k = strings.TrimSpace(k); k != "" {
					keys = append(keys, k)
				}
			}
			return importLookup(ctx, cfg, source, typ, keys, a.stdout, a.stderr)
		},
	})
}

// importLookup prints the Inkwell id of each Django id in keys.
func importLookup(ctx context.Context, cfg Config, source, typ string, keys []string, stdout, stderr io.Writer) error {
	if types := domain.ImportedAggregateTypes(); !slices.Contains(types, typ) {
		return notOneOf("import lookup --type", "type", typ, types)
	}
	if len(keys) == 0 {
		return usagef("import lookup: --ids is required")
	}
	return withStore(ctx, cfg, stderr, func(ops operations) error {
		imports := commands.NewImports(commands.Deps{Store: ops.store, Hasher: auth.NewHasher(cfg.passwordParams(), 1), Logger: ops.log})
		for _, k := range keys {
			id, ok, err := imports.Lookup(ctx, source, typ, k)
			if err != nil {
				return err
			}
			if !ok {
				id = "-"
			}
			fmt.Fprintf(stdout, "%s %s\n", k, id)
		}
		return nil
	})
}

// acceptDjangoTokens sets deps to accept the tokens of the Django app
// Inkwell imported, when its public key is configured.
func (m *Main) acceptDjangoTokens(deps *api.Deps) error {
	cfg := m.Config
	if cfg.DjangoJWTPublicKeyPath == "" {
		return nil
	}
	tokens, err := auth.LoadDjangoTokens(cfg.DjangoJWTPublicKeyPath, cfg.DjangoJWTIssuer, cfg.DjangoJWTAudience, time.Now)
	if err != nil {
		return err
	}
	deps.DjangoTokens = tokens
	deps.DjangoSessions = commands.NewImports(commands.Deps{Store: m.Store, Hasher: m.hasher, Logger: m.log})
	return nil
}
