//go:build !unix

package config

const openNonBlock = 0
