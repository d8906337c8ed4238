// Command walk runs the README's walkthrough through the Go client that
// oapi-codegen generates from Inkwell's OpenAPI document (into ../client):
// walk <base URL> <staff access token>. It is a module of its own, which
// TestGeneratedGoClientRunsTheWalkthrough copies, generates and runs.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"walkthrough/client"
)

func main() {
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "walk:", err)
		os.Exit(1)
	}
	fmt.Println("walkthrough done")
}

// bearer sends token as the document's bearerAuth scheme says.
func bearer(token string) client.RequestEditorFn {
	return func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// status checks an answer's status.
func status(what string, got, want int, body []byte) error {
	if got != want {
		return fmt.Errorf("%s: status %d, want %d: %s", what, got, want, body)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

func run(base, admin string) error {
	ctx := context.Background()
	c, err := client.NewClientWithResponses(base)
	if err != nil {
		return err
	}
	reg, err := c.RegisterWithResponse(ctx, nil, client.RegisterRequest{
		Username: "johndoe", Email: "john@example.com", Password: "secure_password_123",
		FirstName: ptr("John"), LastName: ptr("Doe"),
	})
	if err != nil {
		return err
	}
	if err := status("register", reg.StatusCode(), 201, reg.Body); err != nil {
		return err
	}
	login, err := c.LoginWithResponse(ctx, nil, client.LoginRequest{Username: "johndoe", Password: "secure_password_123"})
	if err != nil {
		return err
	}
	if err := status("login", login.StatusCode(), 200, login.Body); err != nil {
		return err
	}
	access, refresh := login.JSON200.AccessToken, login.JSON200.RefreshToken
	me, err := c.GetMeWithResponse(ctx, bearer(access))
	if err != nil {
		return err
	}
	if err := status("me", me.StatusCode(), 200, me.Body); err != nil {
		return err
	}
	if me.JSON200.Username != "johndoe" || me.JSON200.FirstName != "John" {
		return fmt.Errorf("me: %+v", *me.JSON200)
	}
	fresh, err := c.RefreshTokensWithResponse(ctx, nil, client.RefreshRequest{RefreshToken: refresh})
	if err != nil {
		return err
	}
	if err := status("refresh", fresh.StatusCode(), 200, fresh.Body); err != nil {
		return err
	}
	access = fresh.JSON200.AccessToken

	cat, err := c.CreateCategoryWithResponse(ctx, nil, client.CategoryCreate{Name: "Tutorials", Description: ptr("Step by step")}, bearer(admin))
	if err != nil {
		return err
	}
	if err := status("create category", cat.StatusCode(), 201, cat.Body); err != nil {
		return err
	}
	// The README's own request: a draft in category 1, then published.
	var category client.Ref
	if err := category.FromRef1(1); err != nil {
		return err
	}
	created, err := c.CreateArticleWithResponse(ctx, nil, client.ArticleCreate{
		Title: "My Article", Content: ptr("Article content..."), Category: &category,
	}, bearer(access))
	if err != nil {
		return err
	}
	if err := status("create article", created.StatusCode(), 201, created.Body); err != nil {
		return err
	}
	a := created.JSON201
	if a.Category == nil || a.Category.Name != cat.JSON201.Name || a.IsPublished {
		return fmt.Errorf("create article: %s", created.Body)
	}
	published, err := c.PublishArticleWithResponse(ctx, "1", nil, bearer(access))
	if err != nil {
		return err
	}
	if err := status("publish article", published.StatusCode(), 200, published.Body); err != nil {
		return err
	}
	list, err := c.ListArticlesWithResponse(ctx, nil)
	if err != nil {
		return err
	}
	if err := status("list articles", list.StatusCode(), 200, list.Body); err != nil {
		return err
	}
	if list.JSON200.Count != 1 || list.JSON200.Items[0].Slug != "my-article" {
		return fmt.Errorf("list articles: %s", list.Body)
	}
	got, err := c.GetArticleWithResponse(ctx, "my-article")
	if err != nil {
		return err
	}
	if err := status("get article", got.StatusCode(), 200, got.Body); err != nil {
		return err
	}
	if t, err := c.CreateTagWithResponse(ctx, nil, client.TagCreate{Name: "Django"}, bearer(admin)); err != nil {
		return err
	} else if err := status("create tag", t.StatusCode(), 201, t.Body); err != nil {
		return err
	}
	var tag client.Ref
	if err := tag.FromRef0("django"); err != nil {
		return err
	}
	updated, err := c.UpdateArticleWithResponse(ctx, a.Slug, nil, client.ArticleUpdate{
		Title: ptr("My Article, revised"), Tags: &[]client.Ref{tag},
	}, bearer(access))
	if err != nil {
		return err
	}
	if err := status("update article", updated.StatusCode(), 200, updated.Body); err != nil {
		return err
	}
	if u := updated.JSON200; u.Title != "My Article, revised" || len(u.Tags) != 1 || u.Tags[0].Name != "Django" {
		return fmt.Errorf("update article: %s", updated.Body)
	}
	deleted, err := c.DeleteArticleWithResponse(ctx, a.Id.String(), nil, bearer(access))
	if err != nil {
		return err
	}
	return status("delete article", deleted.StatusCode(), 204, deleted.Body)
}
