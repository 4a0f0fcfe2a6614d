# Generates the WebAssembly text of SHA-256 used by sdk/crypto/sha256.ts: `digest(ptr, len, out)` hashes len bytes at
# ptr of its memory into 32 bytes at out (FIPS 180-4: the compression straight-line, message words and the working
# variables as i32 locals; big-endian loads by rotations). Memory layout: K at 0, H0 at 256, the state at 288, the
# padded tail at 320 (128 bytes), callers' data from 1024 on. Usage:
#   python3 script/wasm/sha256.py > sha256.wat && node script/wasm/assemble.mjs sha256.wat
# then paste the base64 into WASM_BASE64; test/crypto/sha256.test.ts checks it against node:crypto.
K = [0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,0xd807aa98,0x12835b01,
0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,
0x4a7484aa,0x5cb0a9dc,0x76f988da,0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,
0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,0xa2bfe8a1,0xa81a664b,0xc24b8b70,
0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,
0x5b9cca4f,0x682e6ff3,0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2]
H0 = [0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19]
STATE, TAIL = 288, 320
L = []
w = L.append
def le(words): return ''.join(''.join('\\%02x' % ((x >> (8 * i)) & 0xff) for i in range(4)) for x in words)
def g(n): return '(local.get $%s)' % n
def rotr(e, n): return '(i32.rotr %s (i32.const %d))' % (e, n)
def bswap(e):
    return '(i32.or (i32.and (i32.rotl %s (i32.const 8)) (i32.const 0x00ff00ff)) (i32.and (i32.rotr %s (i32.const 8)) (i32.const 0xff00ff00)))' % (e, e)
def xor3(a, b, c): return '(i32.xor (i32.xor %s %s) %s)' % (a, b, c)
w('(module')
w('  (memory (export "memory") 2)')
w('  (data (i32.const 0) "%s")' % le(K))
w('  (data (i32.const 256) "%s")' % le(H0))
# one 64-byte block at $p into the state
w('  (func $block (param $p i32)')
w('    ' + ' '.join('(local $w%d i32)' % i for i in range(64)) + ' ' + ' '.join('(local $%s i32)' % v for v in 'abcdefgh') + ' (local $t1 i32) (local $t2 i32)')
for i in range(16):
    w('    (local.set $w%d %s)' % (i, bswap('(i32.load offset=%d (local.get $p))' % (4 * i))))
for i in range(16, 64):
    s0 = xor3(rotr(g('w%d' % (i - 15)), 7), rotr(g('w%d' % (i - 15)), 18), '(i32.shr_u %s (i32.const 3))' % g('w%d' % (i - 15)))
    s1 = xor3(rotr(g('w%d' % (i - 2)), 17), rotr(g('w%d' % (i - 2)), 19), '(i32.shr_u %s (i32.const 10))' % g('w%d' % (i - 2)))
    w('    (local.set $w%d (i32.add (i32.add %s %s) (i32.add %s %s)))' % (i, g('w%d' % (i - 16)), s0, g('w%d' % (i - 7)), s1))
for j, v in enumerate('abcdefgh'):
    w('    (local.set $%s (i32.load offset=%d (i32.const 0)))' % (v, STATE + 4 * j))
for i in range(64):
    S1 = xor3(rotr(g('e'), 6), rotr(g('e'), 11), rotr(g('e'), 25))
    ch = '(i32.xor (i32.and %s %s) (i32.and (i32.xor %s (i32.const -1)) %s))' % (g('e'), g('f'), g('e'), g('g'))
    w('    (local.set $t1 (i32.add (i32.add (i32.add %s %s) (i32.add %s (i32.load offset=%d (i32.const 0)))) %s))' % (g('h'), S1, ch, 4 * i, g('w%d' % i)))
    S0 = xor3(rotr(g('a'), 2), rotr(g('a'), 13), rotr(g('a'), 22))
    maj = '(i32.or (i32.and %s %s) (i32.and %s (i32.or %s %s)))' % (g('a'), g('b'), g('c'), g('a'), g('b'))
    w('    (local.set $t2 (i32.add %s %s))' % (S0, maj))
    w('    (local.set $h (local.get $g)) (local.set $g (local.get $f)) (local.set $f (local.get $e))')
    w('    (local.set $e (i32.add (local.get $d) (local.get $t1)))')
    w('    (local.set $d (local.get $c)) (local.set $c (local.get $b)) (local.set $b (local.get $a))')
    w('    (local.set $a (i32.add (local.get $t1) (local.get $t2)))')
for j, v in enumerate('abcdefgh'):
    w('    (i32.store offset=%d (i32.const 0) (i32.add (i32.load offset=%d (i32.const 0)) (local.get $%s)))' % (STATE + 4 * j, STATE + 4 * j, v))
w('  )')
# digest(ptr, len, out)
w('  (func (export "digest") (param $p i32) (param $n i32) (param $out i32) (local $len i32) (local $i i32) (local $end i32)')
w('    (local.set $len (local.get $n))')
for j in range(8):
    w('    (i32.store offset=%d (i32.const 0) (i32.load offset=%d (i32.const 0)))' % (STATE + 4 * j, 256 + 4 * j))
w('    (block $done (loop $full')
w('      (br_if $done (i32.lt_u (local.get $n) (i32.const 64)))')
w('      (call $block (local.get $p))')
w('      (local.set $p (i32.add (local.get $p) (i32.const 64)))')
w('      (local.set $n (i32.sub (local.get $n) (i32.const 64)))')
w('      (br $full)))')
for j in range(32):
    w('    (i32.store offset=%d (i32.const 0) (i32.const 0))' % (TAIL + 4 * j))
w('    (local.set $i (i32.const 0))')
w('    (block $copied (loop $copy')
w('      (br_if $copied (i32.ge_u (local.get $i) (local.get $n)))')
w('      (i32.store8 offset=%d (local.get $i) (i32.load8_u (i32.add (local.get $p) (local.get $i))))' % TAIL)
w('      (local.set $i (i32.add (local.get $i) (i32.const 1)))')
w('      (br $copy)))')
w('    (i32.store8 offset=%d (local.get $n) (i32.const 0x80))' % TAIL)
w('    (local.set $end (select (i32.const 64) (i32.const 128) (i32.lt_u (local.get $n) (i32.const 56))))')
# bit length, big-endian, in the last 8 bytes of the padded tail
w('    (i32.store offset=%d (local.get $end) %s)' % (TAIL - 8, bswap('(i32.shr_u (local.get $len) (i32.const 29))')))
w('    (i32.store offset=%d (local.get $end) %s)' % (TAIL - 4, bswap('(i32.shl (local.get $len) (i32.const 3))')))
w('    (call $block (i32.const %d))' % TAIL)
w('    (if (i32.eq (local.get $end) (i32.const 128)) (then (call $block (i32.const %d))))' % (TAIL + 64))
for j in range(8):
    w('    (i32.store offset=%d (local.get $out) %s)' % (4 * j, bswap('(i32.load offset=%d (i32.const 0))' % (STATE + 4 * j))))
w('  )')
w(')')
import sys
sys.stdout.write('\n'.join(L) + '\n')
