package domain

// pair is the state of an aggregate of a pair of ids (a Favorite, a
// Follow): whether the pair is on, as the last of its events left it.
type pair struct{ on bool }

// pairEvent is an event of a pair: it turns the pair on or off.
type pairEvent interface{ turnsOn() bool }

// Apply folds one event into the pair.
func (p *pair) Apply(r Record) {
	if e, ok := r.Event.(pairEvent); ok {
		p.on = e.turnsOn()
	}
}

// On reports whether the pair is on: whether the user favors the article,
// or follows the followee.
func (p *pair) On() bool { return p.on }

// decide decides turning the pair on (or off) with event ev. Turning it to
// where it is changes nothing (a nil event). A pair that is on can be
// turned off whatever became of its target; otherwise missing, when not
// nil, refuses the target (one the actor cannot see, or may not pair with).
func (p *pair) decide(actor Actor, on bool, missing error, ev Event) (Event, error) {
	switch {
	case actor.IsAnonymous():
		return nil, ErrAuthRequired
	case p.on && !on:
		return ev, nil
	case missing != nil:
		return nil, missing
	case p.on == on:
		return nil, nil
	}
	return ev, nil
}
