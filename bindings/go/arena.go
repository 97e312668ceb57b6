package lnpaystore

// #include <stdlib.h>
// #include "lnpaystore.h"
import "C"

import (
	"sort"
	"unsafe"
)

// arena holds the C memory behind one call's input structs. The C API borrows its
// inputs for the duration of the call only, and cgo forbids Go pointers inside memory
// handed to C, so every nested array and byte string is copied into C memory here and
// released when the call returns. Small pieces are carved out of larger blocks: each
// block is one cgo call, where a calloc per piece made cgo and malloc a fifth of a bulk
// import's time.
type arena struct {
	ptrs []unsafe.Pointer
	// free space left in the current block
	next unsafe.Pointer
	left uintptr
}

const (
	arenaBlock = 64 << 10
	// Pieces above this get their own allocation.
	arenaLarge = 16 << 10
	// Every C type of the header is aligned to at most 8 bytes.
	arenaAlign = 8
)

// raw returns size zeroed bytes of C memory aligned to 8.
func (a *arena) raw(size uintptr) unsafe.Pointer {
	size = (size + arenaAlign - 1) &^ (arenaAlign - 1)
	if size > arenaLarge {
		return a.block(size)
	}
	if size > a.left {
		a.next, a.left = a.block(arenaBlock), arenaBlock
	}
	p := a.next
	a.next, a.left = unsafe.Add(a.next, size), a.left-size
	return p
}

func (a *arena) block(size uintptr) unsafe.Pointer {
	p := C.calloc(1, C.size_t(size))
	if p == nil {
		panic("lnpaystore: out of C memory")
	}
	a.ptrs = append(a.ptrs, p)
	return p
}

// allocSlice returns n zeroed elements of T in C memory.
func allocSlice[T any](a *arena, n int) []T {
	if n == 0 {
		return nil
	}
	var zero T
	return unsafe.Slice((*T)(a.raw(uintptr(n)*unsafe.Sizeof(zero))), n)
}

// alloc returns one zeroed T in C memory.
func alloc[T any](a *arena) *T {
	return &allocSlice[T](a, 1)[0]
}

// bytes copies b into C memory; empty is {NULL, 0}.
func (a *arena) bytes(b []byte) C.LpsBytes {
	if len(b) == 0 {
		return C.LpsBytes{}
	}
	dst := allocSlice[byte](a, len(b))
	copy(dst, b)
	return C.LpsBytes{ptr: (*C.uint8_t)(unsafe.Pointer(&dst[0])), len: C.size_t(len(b))}
}

// records copies custom records into a C array, in ascending type.
func (a *arena) records(m map[uint64][]byte) (*C.LpsRecord, C.size_t) {
	if len(m) == 0 {
		return nil, 0
	}
	types := make([]uint64, 0, len(m))
	for t := range m {
		types = append(types, t)
	}
	sort.Slice(types, func(i, j int) bool { return types[i] < types[j] })
	out := allocSlice[C.LpsRecord](a, len(m))
	for i, t := range types {
		out[i]._type = C.uint64_t(t)
		out[i].value = a.bytes(m[t])
	}
	return &out[0], C.size_t(len(out))
}

// free releases everything the arena allocated.
func (a *arena) free() {
	for _, p := range a.ptrs {
		C.free(p)
	}
	a.ptrs, a.next, a.left = nil, nil, 0
}

// Fixed-size byte arrays between Go and C (same layout, distinct element types).

func c32(b *[32]byte) [32]C.uint8_t  { return *(*[32]C.uint8_t)(unsafe.Pointer(b)) }
func c33(b *[33]byte) [33]C.uint8_t  { return *(*[33]C.uint8_t)(unsafe.Pointer(b)) }
func go32(b *[32]C.uint8_t) [32]byte { return *(*[32]byte)(unsafe.Pointer(b)) }
func go33(b *[33]C.uint8_t) [33]byte { return *(*[33]byte)(unsafe.Pointer(b)) }

// goBytes copies a library-owned byte string; empty gives nil.
func goBytes(b C.LpsBytes) []byte {
	if b.len == 0 || b.ptr == nil {
		return nil
	}
	src := unsafe.Slice((*byte)(unsafe.Pointer(b.ptr)), int(b.len))
	return append([]byte(nil), src...)
}

// goRecords copies library-owned custom records; none gives nil.
func goRecords(p *C.LpsRecord, n C.size_t) map[uint64][]byte {
	if n == 0 || p == nil {
		return nil
	}
	m := make(map[uint64][]byte, int(n))
	for _, r := range unsafe.Slice(p, int(n)) {
		m[uint64(r._type)] = goBytes(r.value)
	}
	return m
}
