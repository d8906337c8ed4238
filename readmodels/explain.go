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
