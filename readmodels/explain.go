package readmodels

// ListArticleQueries returns the statements (SQL and arguments) that
// ListArticles runs for f's page, one per branch: what to give the
// database's EXPLAIN to see how it reads a list (the planner tests do).
func ListArticleQueries(db *Store, f ArticleFilter) ([]string, [][]any, error) {
	l, err := db.planArticleList(f)
	if err != nil {
		return nil, nil, err
	}
	var qs []string
	var args [][]any
	for _, st := range l.stmts {
		qs, args = append(qs, st.sql), append(args, st.args)
	}
	return qs, args, nil
}

// ListUserQueries returns the statement (SQL and arguments) that ListUsers
// runs for f's page.
func ListUserQueries(db *Store, f UserFilter) (string, []any, error) {
	l, err := db.planUserList(f)
	if err != nil {
		return "", nil, err
	}
	return l.stmts[0].sql, l.stmts[0].args, nil
}

// ExportQueries returns the statements (SQL and arguments) that the pages of
// one user's export run (SessionsOf, ArticleKeysOf's two branches,
// EventSeqsOf), each as a first page and as a page after a row (the
// arguments' row; any row of the user's does): what the planner tests give
// to EXPLAIN.
func ExportQueries(db *Store, userID string, session Session, article ArticleKey, seq uint64) ([]string, [][]any) {
	var qs []string
	var args [][]any
	add := func(q string, a []any) { qs, args = append(qs, db.Rebind(q)), append(args, a) }
	for _, after := range []*Session{nil, &session} {
		add(sessionsPage(userID, after, 500))
	}
	for _, after := range []*ArticleKey{nil, &article} {
		for _, published := range []bool{false, true} {
			add(articleKeysPage(userID, published, after, 500))
		}
	}
	for _, after := range []uint64{0, seq} {
		add(eventSeqsPage(userID, after, 500))
	}
	return qs, args
}
