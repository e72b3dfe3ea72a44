// Package functions runs the lab's Lambda functions: the real bootstrap
// binaries under the runtime interface emulator, a pool of instances per
// function and region (its concurrency), invoked as Lambda invokes them,
// with dead instances replaced.
//
// It must not compose a function's environment nor apply faults: the lab
// decides what a function is given and whether its region answers.
package functions
