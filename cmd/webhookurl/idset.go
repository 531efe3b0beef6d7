package main

import (
	"hash/maphash"
	"math"
)

// idChunkSize is the number of ids in one chunk of idSet's entries.
// Entries grow a chunk at a time, so a growing set never copies them.
const idChunkSize = 1 << 12

// idSet remembers the ids seen so far by a 64-bit hash of each, with the
// position of its first record. It is the one part of audit whose memory
// grows with the export. Each id takes 12 bytes for the hash and position.
// An index of 4-byte slots, between 3/8 and 3/4 full, adds 5 to 11 bytes,
// so an id costs 17 to 23 bytes in all. While the index doubles, the old
// one is still held, which adds about 5 bytes per id for a moment.
//
// NOTE: two different ids with the same 64-bit hash would be reported as
// duplicates, and the second one's URL would not be checked. The seed is
// random per run, and the chance of any collision among n ids is about
// n²/2⁶⁵: 3e-8 for a million ids.
//
// An idSet is not safe for concurrent use.
type idSet struct {
	seed maphash.Seed
	key  []byte // scratch space for the hashed form of an id

	// hashes and firsts are the entries in the order the ids were first
	// seen, in chunks of idChunkSize. firsts holds the line number or
	// array index, saturated at math.MaxUint32.
	hashes [][]uint64
	firsts [][]uint32
	count  int

	// index is an open-addressing table with linear probing. A slot holds
	// 1 + the entry number of an id, or 0 when it is free. Its length is a
	// power of two.
	index []uint32
}

func newIDSet() *idSet {
	return &idSet{seed: maphash.MakeSeed(), index: make([]uint32, 1024)}
}

// addString records a JSON string id given by its decoded text and
// reports the position of its first record if it was seen before. The
// string "42" and the number 42 are different ids, so the hashed form of a
// string id starts with a quote and that of a number does not.
func (s *idSet) addString(text []byte, pos position) (position, bool) {
	s.key = append(append(s.key[:0], '"'), text...)
	return s.add(maphash.Bytes(s.seed, s.key), pos)
}

// addNumber records a JSON number id by its text, so 1 and 1.0 are
// different ids, and reports the position of its first record if it was
// seen before.
func (s *idSet) addNumber(text []byte, pos position) (position, bool) {
	return s.add(maphash.Bytes(s.seed, text), pos)
}

func (s *idSet) add(h uint64, pos position) (position, bool) {
	mask := uint64(len(s.index) - 1)
	i := h & mask
	for {
		slot := s.index[i]
		if slot == 0 {
			break
		}
		n := int(slot - 1)
		if s.hashes[n/idChunkSize][n%idChunkSize] == h {
			first := int(s.firsts[n/idChunkSize][n%idChunkSize])
			return position{line: first, index: first, array: pos.array}, true
		}
		i = (i + 1) & mask
	}

	if s.count == math.MaxUint32-1 {
		// NOTE: the index cannot number more ids, so the rest are
		// not checked for duplicates. No export of this size is known.
		return position{}, false
	}
	if s.count%idChunkSize == 0 {
		s.hashes = append(s.hashes, make([]uint64, 0, idChunkSize))
		s.firsts = append(s.firsts, make([]uint32, 0, idChunkSize))
	}
	chunk := len(s.hashes) - 1
	s.hashes[chunk] = append(s.hashes[chunk], h)
	s.firsts[chunk] = append(s.firsts[chunk], saturateUint32(pos))
	s.count++
	s.index[i] = uint32(s.count)

	if s.count > len(s.index)/4*3 {
		s.grow()
	}
	return position{}, false
}

// grow doubles the index and inserts every entry again.
func (s *idSet) grow() {
	index := make([]uint32, 2*len(s.index))
	mask := uint64(len(index) - 1)
	for n := range s.count {
		i := s.hashes[n/idChunkSize][n%idChunkSize] & mask
		for index[i] != 0 {
			i = (i + 1) & mask
		}
		index[i] = uint32(n + 1)
	}
	s.index = index
}

func saturateUint32(pos position) uint32 {
	n := pos.line
	if pos.array {
		n = pos.index
	}
	return uint32(min(n, math.MaxUint32))
}
