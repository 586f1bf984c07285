# PyTorch eager training throughput for the shape of examples/train/gpt_gelu.kiln
# (2 layers, 64 wide, 4 heads, vocab 256, batch 16 x seq 64, AdamW + clipping,
# 2 threads), to run next to `kiln train examples/train/gpt_gelu.kiln --data
# examples/train/shakespeare.txt --steps 200 --batch 16 --seq 64 --lr 3e-3`.
import time, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(2); torch.manual_seed(1)
V, D, L, H, T, B = 256, 64, 2, 4, 64, 16
class Block(nn.Module):
    def __init__(s):
        super().__init__(); s.ln1 = nn.LayerNorm(D); s.qkv = nn.Linear(D, 3*D); s.proj = nn.Linear(D, D)
        s.ln2 = nn.LayerNorm(D); s.fc = nn.Linear(D, 4*D); s.fc2 = nn.Linear(4*D, D)
    def forward(s, x):
        q, k, v = s.qkv(s.ln1(x)).split(D, -1)
        sh = lambda t: t.view(B, T, H, D//H).transpose(1, 2)
        y = F.scaled_dot_product_attention(sh(q), sh(k), sh(v), is_causal=True).transpose(1, 2).reshape(B, T, D)
        x = x + s.proj(y)
        return x + s.fc2(F.gelu(s.fc(s.ln2(x)), approximate="tanh"))
class GPT(nn.Module):
    def __init__(s):
        super().__init__(); s.wte = nn.Embedding(V, D); s.wpe = nn.Embedding(256, D)
        s.blocks = nn.ModuleList([Block() for _ in range(L)]); s.lnf = nn.LayerNorm(D)
    def forward(s, idx):
        x = s.wte(idx) + s.wpe(torch.arange(T))
        for b in s.blocks: x = b(x)
        return s.lnf(x) @ s.wte.weight.t()
m = GPT(); opt = torch.optim.AdamW(m.parameters(), lr=3e-3, weight_decay=0.01)
data = torch.randint(0, V, (B, T + 1))
def step():
    logits = m(data[:, :-1]); loss = F.cross_entropy(logits.reshape(-1, V), data[:, 1:].reshape(-1))
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0); opt.step()
for _ in range(10): step()
t = time.time(); n = 200
for _ in range(n): step()
print(f"torch eager: {n*B*T/(time.time()-t):.0f} tokens/s")
