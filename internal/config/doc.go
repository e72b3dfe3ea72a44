// Package config owns pilotlight's settings: where they come from (flags, the
// environment, a .env file, defaults — in that order of precedence), what they
// mean, and whether they make sense together.
//
// Every error it returns names the setting at fault and how to fix it. It does
// not read the process environment or the file system by itself: callers pass
// the environment and the .env contents in, so the package stays testable and
// a Lambda function can build its settings from its own environment.
package config
