// Package domain holds Inkwell's aggregates, their events and their rules.
//
// It is pure: no I/O and no imports of infrastructure. A command is decided by
// a method that returns the events it causes (or an *Error); state is rebuilt
// by folding events with Apply. IDs and the current time are inputs, never
// read from the environment.
package domain
