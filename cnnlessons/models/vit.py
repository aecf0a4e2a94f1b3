"""A small Vision Transformer (Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021),
sized for the course's 16x16 procedural images.

The image is cut into non-overlapping P x P patches; each patch becomes a D-dimensional token by
one linear map (a P x P convolution with stride P); a learned class token is put in front and a
learned position embedding is added to every token; then ``depth`` encoder blocks, each::

    x = x + MSA(LN(x))        multi-head self-attention: every token looks at every token
    x = x + MLP(LN(x))        Linear(D, M), GELU, Linear(M, D), on each token alone

and the class token, after a final LayerNorm, goes to a linear classifier. Self-attention with
h heads of d = D / h dimensions computes, per head::

    Q, K, V = x W_q, x W_k, x W_v          (L tokens x d)
    A = softmax(Q K^T / sqrt(d))           (L x L: how much each token takes from each other)
    out = A V

Nothing in it knows that patch 5 is next to patch 6: locality and translation equivariance, which
a convolution has built in, must be learned from data (through the position embeddings). That is
the "inductive bias" the paper's section 3.1 says ViT lacks; without position embeddings
(``position=False``) the model cannot tell where a patch was at all.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class SelfAttention(nn.Module):
    """Multi-head self-attention on ``(N, L, D)`` tokens, written out (no fused kernel)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)    # W_q, W_k, W_v of every head, in one matrix
        self.proj = nn.Linear(dim, dim)       # mixes the heads' outputs

    def forward(self, x: Tensor) -> Tensor:
        n, length, dim = x.shape
        d = dim // self.heads
        q, k, v = self.qkv(x).reshape(n, length, 3, self.heads, d).permute(2, 0, 3, 1, 4)  # each (N, h, L, d)
        weights = (q @ k.transpose(-2, -1) / math.sqrt(d)).softmax(dim=-1)                # (N, h, L, L)
        out = (weights @ v).transpose(1, 2).reshape(n, length, dim)                        # heads side by side
        return self.proj(out)


class EncoderBlock(nn.Module):
    """A pre-norm transformer encoder block: attention, then an MLP, each on a residual branch."""

    def __init__(self, dim: int, heads: int, mlp_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attention = SelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    """ViT for ``image_size`` x ``image_size`` images cut into ``patch`` x ``patch`` patches."""

    def __init__(self, image_size: int = 16, patch: int = 4, dim: int = 64, depth: int = 6, heads: int = 4,
                 mlp_dim: int = 128, num_classes: int = 20, channels: int = 3, position: bool = True) -> None:
        super().__init__()
        if image_size % patch:
            raise ValueError(f"image_size ({image_size}) must be a multiple of patch ({patch})")
        tokens = (image_size // patch) ** 2
        self.patch_embedding = nn.Conv2d(channels, dim, patch, stride=patch)   # one linear map per patch
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.position = nn.Parameter(torch.empty(1, tokens + 1, dim).normal_(std=0.02)) if position else None
        self.blocks = nn.Sequential(*[EncoderBlock(dim, heads, mlp_dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)
        for m in self.modules():  # as torchvision's ViT: Xavier-uniform linear weights, zero biases
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        tokens = self.patch_embedding(x).flatten(2).transpose(1, 2)            # (N, L, D)
        tokens = torch.cat([self.class_token.expand(len(x), -1, -1), tokens], dim=1)
        if self.position is not None:
            tokens = tokens + self.position
        return self.head(self.norm(self.blocks(tokens))[:, 0])                # the class token decides


def vit_tiny(num_classes: int = 20, image_size: int = 16, **kwargs: int | bool) -> VisionTransformer:
    """The lesson's ViT: 4x4 patches, D = 64, 6 blocks of 4 heads, MLP 128 (about 0.2M parameters)."""
    return VisionTransformer(image_size=image_size, num_classes=num_classes, **kwargs)  # type: ignore[arg-type]


def load_torchvision_block(ours: EncoderBlock, theirs: nn.Module) -> EncoderBlock:
    """Copy the weights of torchvision's ``vision_transformer.EncoderBlock`` into ``ours``."""
    with torch.no_grad():
        ours.norm1.load_state_dict(theirs.ln_1.state_dict())
        ours.norm2.load_state_dict(theirs.ln_2.state_dict())
        ours.attention.qkv.weight.copy_(theirs.self_attention.in_proj_weight)
        ours.attention.qkv.bias.copy_(theirs.self_attention.in_proj_bias)
        ours.attention.proj.load_state_dict(theirs.self_attention.out_proj.state_dict())
        ours.mlp[0].load_state_dict(theirs.mlp[0].state_dict())
        ours.mlp[2].load_state_dict(theirs.mlp[3].state_dict())
    return ours


__all__ = ["EncoderBlock", "SelfAttention", "VisionTransformer", "load_torchvision_block", "vit_tiny"]
