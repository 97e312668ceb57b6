module github.com/lnpaystore/lnpaystore/tests/go-consumer

go 1.23

require github.com/lnpaystore/lnpaystore/bindings/go v0.0.0

replace github.com/lnpaystore/lnpaystore/bindings/go => ../../bindings/go
