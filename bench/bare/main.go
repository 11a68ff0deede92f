// Command bare is the yardstick of bench/startup.sh: a Go program that does
// nothing but print an environment variable, so its run time is the start-up
// cost of any Go binary on the machine.
package main

import "os"

func main() {
	os.Stdout.WriteString(os.Getenv("ANTHROPIC_API_KEY") + "\n")
}
