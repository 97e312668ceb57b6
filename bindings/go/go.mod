module github.com/lnpaystore/lnpaystore/bindings/go

go 1.23
