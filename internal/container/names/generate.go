package names

import (
	"crypto/rand"
	"math/big"
)

// Word lists for generated names (adjective_surname), chosen for hoist.
var (
	nameLeft = []string{
		"agile", "amber", "ample", "bold", "brave", "breezy", "bright", "calm", "clever", "cosmic",
		"crisp", "daring", "dreamy", "eager", "earnest", "elated", "epic", "fervent", "festive", "fluent",
		"focused", "gentle", "gifted", "glad", "golden", "happy", "hardy", "humble", "jolly", "keen",
		"kind", "lively", "loyal", "lucid", "merry", "mellow", "modest", "nimble", "noble", "patient",
		"placid", "plucky", "polite", "proud", "quick", "quiet", "rapid", "serene", "sharp", "shiny",
		"sleepy", "smart", "snappy", "solid", "spry", "steady", "sturdy", "sunny", "swift", "tender",
		"tidy", "upbeat", "vivid", "warm", "wise", "witty", "zealous", "zen",
	}
	nameRight = []string{
		"agnesi", "archimedes", "babbage", "bardeen", "bohr", "boole", "cannon", "carson", "cerf", "curie",
		"darwin", "dijkstra", "einstein", "euclid", "euler", "faraday", "fermat", "fermi", "feynman", "franklin",
		"galileo", "gauss", "goodall", "hamilton", "hawking", "hertz", "hopper", "hypatia", "joule", "kepler",
		"knuth", "lamarr", "lamport", "leakey", "lovelace", "maxwell", "meitner", "mendel", "morse", "newton",
		"noether", "pascal", "pasteur", "planck", "ritchie", "sagan", "shannon", "somerville", "tesla", "thompson",
		"torvalds", "turing", "volta", "wilson", "wozniak", "yalow",
	}
)

func pick(list []string) string {
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(list))))
	return list[n.Int64()]
}

// Generate returns a docker-style random name such as "brave_turing".
func Generate() string {
	return pick(nameLeft) + "_" + pick(nameRight)
}
