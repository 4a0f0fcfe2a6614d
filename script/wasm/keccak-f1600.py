# Generates the WebAssembly text of Keccak-f[1600] used by sdk/crypto/keccak.ts (lanes as i64 locals, theta, rho+pi,
# chi, iota straight-line, 24 rounds in a loop over round constants at offset 256). Usage:
#   python3 script/wasm/keccak-f1600.py > keccak.wat
# then assemble with binaryen (parseText, features MVP, optimize level 2, emitBinary) and paste the base64 into
# WASM_BASE64; test/crypto/keccak.test.ts checks the result against @noble/hashes.
R = [[0,36,3,41,18],[1,44,10,45,2],[62,6,43,15,61],[28,55,25,21,56],[27,20,39,8,14]]  # R[x][y]
RC = [0x0000000000000001,0x0000000000008082,0x800000000000808A,0x8000000080008000,0x000000000000808B,0x0000000080000001,
0x8000000080008081,0x8000000000008009,0x000000000000008A,0x0000000000000088,0x0000000080008009,0x000000008000000A,
0x000000008000808B,0x800000000000008B,0x8000000000008089,0x8000000000008003,0x8000000000008002,0x8000000000000080,
0x000000000000800A,0x800000008000000A,0x8000000080008081,0x8000000000008080,0x0000000080000001,0x8000000080008008]
L=[]
w=L.append
w('(module')
w('  (memory (export "memory") 1)')
data=''.join(''.join('\\%02x'%((c>>(8*i))&0xff) for i in range(8)) for c in RC)
w('  (data (i32.const 256) "%s")' % data)
w('  (func (export "permute")')
locs=' '.join('(local $a%d i64)'%i for i in range(25))+' '+' '.join('(local $b%d i64)'%i for i in range(25))+' '+' '.join('(local $c%d i64)'%i for i in range(5))+' '+' '.join('(local $d%d i64)'%i for i in range(5))+' (local $r i32)'
w('    '+locs)
for i in range(25): w('    (local.set $a%d (i64.load offset=%d (i32.const 0)))'%(i,8*i))
w('    (local.set $r (i32.const 0))')
w('    (loop $round')
for x in range(5):
    w('      (local.set $c%d (i64.xor (i64.xor (i64.xor (local.get $a%d) (local.get $a%d)) (i64.xor (local.get $a%d) (local.get $a%d))) (local.get $a%d)))'%(x,x,x+5,x+10,x+15,x+20))
for x in range(5):
    w('      (local.set $d%d (i64.xor (local.get $c%d) (i64.rotl (local.get $c%d) (i64.const 1))))'%(x,(x+4)%5,(x+1)%5))
for x in range(5):
    for y in range(5):
        # B[y][(2x+3y)%5] = rotl(A[x][y] ^ D[x], R[x][y]); B lane index bx + 5*by with bx=y, by=(2x+3y)%5
        bi = y + 5*((2*x+3*y)%5)
        e='(i64.xor (local.get $a%d) (local.get $d%d))'%(x+5*y,x)
        if R[x][y]: e='(i64.rotl %s (i64.const %d))'%(e,R[x][y])
        w('      (local.set $b%d %s)'%(bi,e))
for x in range(5):
    for y in range(5):
        w('      (local.set $a%d (i64.xor (local.get $b%d) (i64.and (i64.xor (local.get $b%d) (i64.const -1)) (local.get $b%d))))'%(x+5*y,x+5*y,(x+1)%5+5*y,(x+2)%5+5*y))
w('      (local.set $a0 (i64.xor (local.get $a0) (i64.load offset=256 (local.get $r))))')
w('      (local.set $r (i32.add (local.get $r) (i32.const 8)))')
w('      (br_if $round (i32.lt_u (local.get $r) (i32.const 192))))')
for i in range(25): w('    (i64.store offset=%d (i32.const 0) (local.get $a%d))'%(8*i,i))
w('  ))')
import sys
sys.stdout.write('\n'.join(L) + '\n')
