module github.com/credchain/credchain

go 1.26.0
