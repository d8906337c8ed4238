// Package reactors holds Inkwell's process managers: handlers that follow
// the event log through durable JetStream consumers, on a Watermill router,
// and react to events by issuing commands.
package reactors

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"inkwell/domain"
	"inkwell/eventstore"
)

// Reactor handles events of the log.
type Reactor interface {
	// Name is stable: it names the reactor's durable consumer, and a new
	// name means handling the whole log again.
	Name() string
	// AggregateTypes lists the aggregates whose events the reactor reads.
	AggregateTypes() []string
	// Handle reacts to one event. It must be idempotent: an event can be
	// delivered again (after a crash, or a lost acknowledgement). An error
	// is retried with backoff, then the event goes to the dead-letter
	// stream; but one wrapping a *domain.UnavailableError (a dependency
	// that could not answer) is delivered again until it passes.
	Handle(ctx context.Context, rec domain.Record) error
}

// Observer records what reactors do (metrics).
type Observer interface {
	ReactorHandled(reactor, outcome string)
	ReactorRetried(reactor string)
	DeadLettered(reactor string)
}

type noObserver struct{}

func (noObserver) ReactorHandled(string, string) {}
func (noObserver) ReactorRetried(string)         {}
func (noObserver) DeadLettered(string)           {}

// Config tunes retries.
type Config struct {
	// MaxRetries before an event is dead-lettered (default 5), or,
	// failed for want of a dependency, delivered again a second later.
	MaxRetries int
	// InitialInterval of the retry backoff (default 100ms), doubling up to
	// MaxInterval (default 5s).
	InitialInterval time.Duration
	MaxInterval     time.Duration
	// AckWait is how long an event handed to a reactor may stay
	// unacknowledged (a crashed process) before JetStream delivers it again
	// (default 30s).
	AckWait time.Duration
	// CloseTimeout bounds how long Close waits for handlers to finish
	// (default 15s); an event whose handler did not finish is delivered
	// again later.
	CloseTimeout time.Duration
	Logger       *slog.Logger
	Observer     Observer
}

// Router runs reactors on a Watermill router.
type Router struct {
	router     *message.Router
	subscriber *eventstore.Subscriber
	// DeadLetterSubject receives the events reactors gave up on.
	DeadLetterSubject string
	done              chan struct{}
}

// ConsumerName returns the durable consumer name of a reactor.
func ConsumerName(r Reactor) string { return "inkwell-reactor-" + r.Name() }

// Start creates the reactors' durable consumers and the dead-letter stream
// (up front, so nothing is ever created or deleted implicitly), and runs the
// reactors until ctx is done or Close is called.
func Start(ctx context.Context, store *eventstore.Store, cfg Config, rs ...Reactor) (*Router, error) {
	cfg.setDefaults()
	prefix, err := store.EnsureDeadLetterStream(ctx)
	if err != nil {
		return nil, err
	}
	wlog := watermill.NewSlogLoggerWithLevelMapping(cfg.Logger.With("component", "reactors"), map[slog.Level]slog.Level{
		slog.LevelInfo: slog.LevelDebug,
	})
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: cfg.CloseTimeout}, wlog)
	if err != nil {
		return nil, err
	}
	r := &Router{router: router, subscriber: eventstore.NewSubscriber(store), DeadLetterSubject: prefix + ".reactors", done: make(chan struct{})}
	poison, err := middleware.PoisonQueueWithFilter(store.Publisher(), r.DeadLetterSubject, permanent)
	if err != nil {
		return nil, err
	}
	// Outermost first: give up to the dead-letter stream after the retries
	// (counting it), and retry with backoff (counting each). Each handler
	// turns a panic into an error, which is retried like any other. A
	// failure of a dependency (permanent is false) is never given up on:
	// after the retries the event is delivered again a second later, until
	// NATS or the database answers again.
	router.AddMiddleware(poison, r.countDeadLettered(cfg), retry(cfg, wlog))
	for _, rc := range rs {
		name := ConsumerName(rc)
		if err := store.EnsureConsumer(ctx, eventstore.ConsumerConfig{Name: name, Subjects: store.SubjectsOf(rc.AggregateTypes()...), AckWait: cfg.AckWait}); err != nil {
			return nil, err
		}
		router.AddConsumerHandler(rc.Name(), name, r.subscriber, handlerOf(store, rc, cfg.Observer))
	}
	if err := r.run(ctx, cfg.Logger); err != nil {
		return nil, err
	}
	return r, nil
}

func (c *Config) setDefaults() {
	c.MaxRetries = cmp.Or(c.MaxRetries, 5)
	c.InitialInterval = cmp.Or(c.InitialInterval, 100*time.Millisecond)
	c.MaxInterval = cmp.Or(c.MaxInterval, 5*time.Second)
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	c.Observer = cmp.Or[Observer](c.Observer, noObserver{})
	c.CloseTimeout = cmp.Or(c.CloseTimeout, 15*time.Second)
}

// countDeadLettered counts and logs each event a reactor gave up on (the
// poison-queue middleware outside it sends it to the dead-letter stream).
func (r *Router) countDeadLettered(cfg Config) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			if err != nil && !permanent(err) {
				cfg.Logger.Warn("reactor could not handle an event while a dependency is unavailable; it is delivered again",
					"reactor", message.HandlerNameFromCtx(msg.Context()), "event_id", msg.UUID, "err", err)
			} else if err != nil {
				name := message.HandlerNameFromCtx(msg.Context())
				cfg.Observer.DeadLettered(name)
				cfg.Logger.Error("reactor gave up on an event; it goes to the dead-letter stream",
					"reactor", name, "event_id", msg.UUID, "subject", r.DeadLetterSubject, "err", err)
			}
			return out, err
		}
	}
}

// permanent reports whether err is a failure that handling the event again
// cannot mend, so that the event goes to the dead-letter stream: anything
// but a dependency that could not answer (*domain.UnavailableError: NATS,
// the data keys' bucket, the database), which passes, and a handling cut
// short (its context cancelled or out of time: the process stopping), which
// an instance does again.
func permanent(err error) bool {
	var u *domain.UnavailableError
	return !errors.As(err, &u) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// retry retries a failed handling with backoff, counting each retry.
func retry(cfg Config, wlog watermill.LoggerAdapter) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			name := message.HandlerNameFromCtx(msg.Context())
			return middleware.Retry{
				MaxRetries:      cfg.MaxRetries,
				InitialInterval: cfg.InitialInterval,
				MaxInterval:     cfg.MaxInterval,
				Multiplier:      2,
				Logger:          wlog,
				OnRetryHook:     func(int, time.Duration) { cfg.Observer.ReactorRetried(name) },
			}.Middleware(h)(msg)
		}
	}
}

// handlerOf is the Watermill handler of reactor rc: it decodes each message
// into its event (skipping types this build does not know), hands it to
// rc, counts the outcome and turns a panic into an error.
func handlerOf(store *eventstore.Store, rc Reactor, obs Observer) message.NoPublishHandlerFunc {
	return func(msg *message.Message) (err error) {
		defer func() {
			if p := recover(); p != nil {
				obs.ReactorHandled(rc.Name(), "panic")
				err = fmt.Errorf("panic in reactor %s: %v", rc.Name(), p)
			}
		}()
		rec, err := store.DecodeMessage(msg)
		if err != nil {
			obs.ReactorHandled(rc.Name(), "error")
			return fmt.Errorf("decode event: %w", err)
		}
		if rec.Event == nil {
			return nil // an event type this build does not know
		}
		if err := rc.Handle(msg.Context(), rec); err != nil {
			obs.ReactorHandled(rc.Name(), "error")
			return err
		}
		obs.ReactorHandled(rc.Name(), "ok")
		return nil
	}
}

// run runs the router in the background and returns once it is running.
func (r *Router) run(ctx context.Context, log *slog.Logger) error {
	go func() {
		defer close(r.done)
		if err := r.router.Run(ctx); err != nil {
			log.Error("reactors stopped", "err", err)
		}
	}()
	select {
	case <-r.router.Running():
		return nil
	case <-r.done:
		return fmt.Errorf("reactors did not start")
	case <-time.After(30 * time.Second):
		r.router.Close()
		return fmt.Errorf("reactors did not start within 30s")
	}
}

// Close stops the reactors; events in flight are finished or, unacknowledged,
// delivered again later.
func (r *Router) Close() error {
	err := r.router.Close()
	<-r.done
	_ = r.subscriber.Close()
	return err
}
