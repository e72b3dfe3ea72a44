// Package cost owns what a deployment costs a month, per detection
// profile: every figure counted from what the templates schedule and
// configure (each rule's rate, each function's memory and renewal window,
// the alarms, the metrics), read from the templates rather than restated,
// with AWS's prices and free tier; and RatePeriod, the schedule
// expressions' interval.
package cost
