/*
 * chars.c — the character class table behind chars.h, built at compile
 * time from the RFC 3261 §25.1 character sets.
 */
#include "chars.h"

#define A (CH_TOKEN | CH_PVALUE | CH_ALPHA | CH_UNRESERVED | CH_HOST | CH_LABEL | CH_WORD)
#define AH (A | CH_HEX)
#define D (CH_TOKEN | CH_PVALUE | CH_DIGIT | CH_HEX | CH_UNRESERVED | CH_HOST | CH_LABEL | \
	   CH_WORD)

const unsigned short sip_chars[256] = {
	[' '] = CH_WS | CH_SPACE, ['\t'] = CH_WS | CH_SPACE,
	['\r'] = CH_SPACE, ['\n'] = CH_SPACE,
	['0'] = D, ['1'] = D, ['2'] = D, ['3'] = D, ['4'] = D,
	['5'] = D, ['6'] = D, ['7'] = D, ['8'] = D, ['9'] = D,
	['a'] = AH, ['b'] = AH, ['c'] = AH, ['d'] = AH, ['e'] = AH, ['f'] = AH,
	['A'] = AH, ['B'] = AH, ['C'] = AH, ['D'] = AH, ['E'] = AH, ['F'] = AH,
	['g'] = A, ['h'] = A, ['i'] = A, ['j'] = A, ['k'] = A, ['l'] = A,
	['m'] = A, ['n'] = A, ['o'] = A, ['p'] = A, ['q'] = A, ['r'] = A,
	['s'] = A, ['t'] = A, ['u'] = A, ['v'] = A, ['w'] = A, ['x'] = A,
	['y'] = A, ['z'] = A,
	['G'] = A, ['H'] = A, ['I'] = A, ['J'] = A, ['K'] = A, ['L'] = A,
	['M'] = A, ['N'] = A, ['O'] = A, ['P'] = A, ['Q'] = A, ['R'] = A,
	['S'] = A, ['T'] = A, ['U'] = A, ['V'] = A, ['W'] = A, ['X'] = A,
	['Y'] = A, ['Z'] = A,
	['-'] = CH_TOKEN | CH_PVALUE | CH_UNRESERVED | CH_HOST | CH_LABEL | CH_WORD,
	['.'] = CH_TOKEN | CH_PVALUE | CH_UNRESERVED | CH_HOST | CH_WORD,
	['!'] = CH_TOKEN | CH_PVALUE | CH_UNRESERVED | CH_WORD,
	['%'] = CH_TOKEN | CH_PVALUE | CH_WORD,
	['*'] = CH_TOKEN | CH_PVALUE | CH_UNRESERVED | CH_WORD,
	['_'] = CH_TOKEN | CH_PVALUE | CH_UNRESERVED | CH_WORD,
	['+'] = CH_TOKEN | CH_PVALUE | CH_USER_UNRES | CH_PARAM_UNRES | CH_HNV_UNRES | CH_PASSWD | CH_WORD,
	['`'] = CH_TOKEN | CH_PVALUE | CH_WORD,
	['\''] = CH_TOKEN | CH_PVALUE | CH_UNRESERVED | CH_WORD,
	['~'] = CH_TOKEN | CH_PVALUE | CH_UNRESERVED | CH_WORD,
	['('] = CH_UNRESERVED | CH_WORD,
	[')'] = CH_UNRESERVED | CH_WORD,
	['&'] = CH_USER_UNRES | CH_PARAM_UNRES | CH_PASSWD,
	['='] = CH_USER_UNRES | CH_PASSWD,
	['$'] = CH_USER_UNRES | CH_PARAM_UNRES | CH_HNV_UNRES | CH_PASSWD,
	[','] = CH_USER_UNRES | CH_PASSWD,
	[';'] = CH_USER_UNRES,
	['?'] = CH_USER_UNRES | CH_HNV_UNRES | CH_WORD,
	['/'] = CH_USER_UNRES | CH_PARAM_UNRES | CH_HNV_UNRES | CH_WORD,
	['['] = CH_PVALUE | CH_PARAM_UNRES | CH_HNV_UNRES | CH_WORD,
	[']'] = CH_PVALUE | CH_PARAM_UNRES | CH_HNV_UNRES | CH_WORD,
	[':'] = CH_PVALUE | CH_PARAM_UNRES | CH_HNV_UNRES | CH_WORD,
	['<'] = CH_WORD, ['>'] = CH_WORD, ['"'] = CH_WORD, ['\\'] = CH_WORD,
	['{'] = CH_WORD, ['}'] = CH_WORD,
};
