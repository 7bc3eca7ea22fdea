// The time loops of seqgraph.fused in C++: what the Python loops of lstm.py, gru.py, peephole.py and rnn.py do
// at each step, the same operations in the same order, but row by row of the batch (a row of the gates stays in
// the L1 cache from one operation to the next) instead of one torch operation over the whole batch after another,
// and without Python and the dispatcher between the operations. Built and loaded by native.py; the Python functions
// call these with the buffers they allocate, and keep what runs once per sequence (the input projection, the
// weight gradients).
//
// The rows of a batch never meet, so each thread takes a block of rows for the whole sequence (by_blocks): the
// threads never wait for each other, where splitting every step's product and gate arithmetic would meet them
// twice a step. The threads are at::parallel_for's, torch's OpenMP threads: this file must be compiled with
// -fopenmp (native.py does), or at::parallel_for runs every block on the calling thread, silently.
//
// Same numbers as the Python loops, bit for bit, where the products go through oneDNN (float32 on the CPU). The
// products are the same calls (kernels.linear: oneDNN's inner product with the same packed weights) on a thread's
// block of rows: oneDNN gives each row of a block of two rows or more the same bits as the whole batch's product
// with one thread or more (not a single row: its matrix-vector kernel sums in another order; by_blocks never makes
// one). Elementwise, each torch operation rounds once per element, so doing its arithmetic in the same order gives
// the same bits, with two details: torch's addcmul is a fused multiply-add (self + value * t1 * t2, contracted;
// this file is compiled with -ffp-contract=off and writes fmadd where torch's kernels fuse), and torch's sigmoid
// uses Sleef's vectorised exp on most elements but std::exp on a few (see Split), which give different last bits
// for about 4% of inputs.

// the headers of what is used, not ATen/ATen.h: a third of the build's time
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/cpu/vec/vec.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/linear.h>
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <optional>
#include <tuple>

namespace {

using at::Tensor;
template <typename T>
using Vec = at::vec::Vectorized<T>;

// kernels._plain: contiguous, or the transpose of a contiguous matrix, as oneDNN takes them fast
Tensor plain(const Tensor& t) {
  return t.is_contiguous() || (t.dim() == 2 && t.t().is_contiguous()) ? t : t.contiguous();
}

// kernels.linear: x @ w.T through oneDNN's inner product (torch.ops.mkldnn._linear_pointwise, w plain or packed by
// kernels.pack) where the Python loop takes it, at::linear otherwise
Tensor linear(const Tensor& x, const Tensor& w, bool onednn) {
  if (!onednn) {
    return at::linear(x, w);
  }
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("mkldnn::_linear_pointwise", "")
                       .typed<Tensor(const Tensor&, const Tensor&, const std::optional<Tensor>&, c10::string_view,
                                     c10::List<std::optional<at::Scalar>>, std::optional<c10::string_view>)>();
  return op.call(plain(x), w.is_mkldnn() ? w : plain(w), std::nullopt, "none", c10::List<std::optional<at::Scalar>>(),
                 "");
}

// Which elements torch's sigmoid computes with std::exp. at::native::cpu_kernel_vec walks an operation over n
// elements in rows of `row` (row == n where the tensors are contiguous), cut where the chunks that at::parallel_for
// gives the threads end (only above GRAIN_SIZE elements and with more than one thread), and computes the last
// length % (2 * Vec::size()) elements of each piece one by one.
template <typename T>
struct Split {
  static constexpr int64_t GRAIN_SIZE = 32768;  // at::internal::GRAIN_SIZE (ATen/TensorIterator.h, 1.5 s to include)
  int64_t n, row, chunk;

  Split(int64_t n, int64_t row) : n(n), row(row), chunk(n) {
    const int64_t threads = at::get_num_threads();
    if (n > GRAIN_SIZE && threads > 1) {
      chunk = at::divup(n, std::min(threads, at::divup(n, GRAIN_SIZE)));
    }
  }

  // the piece that holds element k: where its scalar tail starts and where it ends
  std::pair<int64_t, int64_t> piece(int64_t k) const {
    const int64_t begin = std::max(k / chunk * chunk, k / row * row);
    const int64_t end = std::min({k / chunk * chunk + chunk, k / row * row + row, n});
    return {end - (end - begin) % (2 * Vec<T>::size()), end};
  }
};

// f(j, m) for the lanes j..j+m of [begin, end), m <= Vec::size(); ld and st load and store them
template <typename T, typename F>
void lanes(int64_t begin, int64_t end, const F& f) {
  for (int64_t j = begin; j < end; j += Vec<T>::size()) {
    f(j, std::min<int64_t>(Vec<T>::size(), end - j));
  }
}

template <typename T>
Vec<T> ld(const T* p, int64_t m) {
  return m == Vec<T>::size() ? Vec<T>::loadu(p) : Vec<T>::loadu(p, m);
}

template <typename T>
void st(const Vec<T>& v, T* p, int64_t m) {
  m == Vec<T>::size() ? v.store(p) : v.store(p, m);
}

// y(j, m, sigmoid(x(j, m))) for the lanes of [0, len): the elements first..first+len of an operation that torch
// walks as `split` says, with at::sigmoid's two formulas (UnaryOpsKernel.cpp): Sleef's vectorised exp where torch
// vectorises, std::exp where it does not. x computes each lane's argument once, y stores what it makes of the result.
template <typename T, typename X, typename Y>
void with_sigmoid(int64_t len, int64_t first, const Split<T>& split, const X& x, const Y& y) {
  for (int64_t k = 0; k < len;) {
    const auto [scalar_from, end] = split.piece(first + k);
    const int64_t vector_end = std::min(len, scalar_from - first), piece_end = std::min(len, end - first);
    lanes<T>(k, vector_end, [&](int64_t j, int64_t m) {
      y(j, m, ((Vec<T>(0) - x(j, m)).exp() + Vec<T>(1)).reciprocal());
    });
    for (int64_t j = std::max(k, vector_end); j < piece_end; ++j) {
      T a;
      x(j, 1).store(&a, 1);
      y(j, 1, Vec<T>(T(1) / (T(1) + std::exp(-a))));
    }
    k = piece_end;
  }
}

// with_sigmoid for kernels.tanh, 2 sigmoid(2x) - 1, on row r of a contiguous (rows, H) operation
template <typename T, typename X, typename Y>
void with_tanh(int64_t H, int64_t r, const Split<T>& split, const X& x, const Y& y) {
  with_sigmoid<T>(
      H, r * H, split,
      [&](int64_t j, int64_t m) {
        const auto v = x(j, m);
        return v + v;
      },
      [&](int64_t j, int64_t m, const Vec<T>& s) { y(j, m, s * Vec<T>(2) - Vec<T>(1)); });
}

// f(d, b0, b1) for blocks of rows b0..b1 of each of D directions of B rows, a thread each (see the top of the
// file): as many blocks as threads, none of a single row where B > 1
template <typename F>
void by_blocks(int64_t D, int64_t B, const F& f) {
  const int64_t per_direction = std::max<int64_t>(1, std::min(at::divup(at::get_num_threads(), D), B / 2));
  at::parallel_for(0, D * per_direction, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const int64_t d = k / per_direction, part = k % per_direction;
      f(d, part * B / per_direction, (part + 1) * B / per_direction);
    }
  });
}

// How many threads by_blocks gets for n blocks: at::parallel_for's, which is one where this file was compiled
// without OpenMP whatever torch.get_num_threads() says (native.py compiles it with -fopenmp; a test checks it)
int64_t loop_threads(int64_t n) {
  std::atomic<int64_t> chunks{0};
  at::parallel_for(0, n, 1, [&](int64_t, int64_t) { ++chunks; });
  return chunks;
}

// LSTMFunction.forward's loop, D directions. x_proj holds each direction's input terms, (T, B, 4H); gates
// (T, D, B, 4H) gets i, f, sigmoid(2 a_g), o (it is x_proj[0] itself where D = 1); c (T + 1, D, B, H) holds c(0)
// and gets c(1..T); tanh_c (T, D, B, H) and h (D, T, B, H) get tanh c(1..T) and h(1..T)
void lstm_forward(at::TensorList x_proj, at::TensorList weight_hh, const Tensor& h0, const Tensor& gates,
                  const Tensor& h, const Tensor& c, const Tensor& tanh_c, bool onednn) {
  const int64_t T = gates.size(0), D = gates.size(1), B = gates.size(2), H = h0.size(-1), rows = D * B;
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "lstm_forward", [&] {
    using V = Vec<scalar_t>;
    // the Python loop's sigmoid_ of gates[t] and of tanh_c[t], contiguous
    const Split<scalar_t> gate_split(rows * 4 * H, rows * 4 * H), tanh_split(rows * H, rows * H);
    scalar_t *a_all = gates.data_ptr<scalar_t>(), *c_all = c.data_ptr<scalar_t>();
    scalar_t *tanh_all = tanh_c.data_ptr<scalar_t>(), *h_all = h.data_ptr<scalar_t>();
    by_blocks(D, B, [&](int64_t d, int64_t b0, int64_t b1) {
      for (int64_t t = 0; t < T; ++t) {
        // h(t-1) W_hh^T for the block, (b1 - b0, 4H)
        const Tensor p = linear((t == 0 ? h0[d] : h[d][t - 1]).narrow(0, b0, b1 - b0), weight_hh[d], onednn);
        for (int64_t b = b0; b < b1; ++b) {
          const int64_t r = d * B + b, row = t * rows + r;
          const scalar_t* x = x_proj[d].const_data_ptr<scalar_t>() + (t * B + b) * 4 * H;
          const scalar_t *p_r = p.const_data_ptr<scalar_t>() + (b - b0) * 4 * H, *c_prev = c_all + row * H;
          scalar_t *a = a_all + row * 4 * H, *c_t = c_all + (row + rows) * H, *tanh_t = tanh_all + row * H;
          scalar_t* h_t = h_all + ((d * T + t) * B + b) * H;
          // (5)-(7), and (4) as sigmoid(2 a_g): the input terms plus the product, through one sigmoid
          with_sigmoid<scalar_t>(
              4 * H, r * 4 * H, gate_split, [&](int64_t j, int64_t m) { return ld(x + j, m) + ld(p_r + j, m); },
              [&](int64_t j, int64_t m, const V& s) { st(s, a + j, m); });
          // (8): torch.mul(c_prev, f).addcmul_(i, sigmoid_2g, value=2).sub_(i); (9): h = tanh c(t) o
          const scalar_t *i = a, *f = a + H, *sigmoid_2g = a + 2 * H, *o = a + 3 * H;
          with_tanh<scalar_t>(
              H, r, tanh_split,
              [&](int64_t j, int64_t m) {
                const V i_j = ld(i + j, m);
                const V c_j =
                    at::vec::fmadd(V(2) * i_j, ld(sigmoid_2g + j, m), ld(c_prev + j, m) * ld(f + j, m)) - i_j;
                st(c_j, c_t + j, m);
                return c_j;
              },
              [&](int64_t j, int64_t m, const V& tanh_c_j) {
                st(tanh_c_j, tanh_t + j, m);
                st(tanh_c_j * ld(o + j, m), h_t + j, m);
              });
        }
      }
    });
  });
}

// LSTMFunction.backward's loop, with the factors that the Python loop computes for all steps before it: returns
// d_gates (D, T, B, 4H), the gates' gradients before their nonlinearities, each direction's contiguous for the
// products over all steps that follow, and delta c(1) (D, B, H). grad_h is (D, T, B, H)
std::tuple<Tensor, Tensor> lstm_backward(const Tensor& gates, const Tensor& c, const Tensor& tanh_c,
                                         const Tensor& grad_h_in, const Tensor& grad_c_last,
                                         at::TensorList weight_hh_t, bool onednn) {
  // autograd hands the gradient of outputs used through a transposed view strided: read its rows where they are
  const Tensor grad_h = grad_h_in.stride(-1) == 1 ? grad_h_in : grad_h_in.contiguous();
  const int64_t T = gates.size(0), D = gates.size(1), B = gates.size(2), H = c.size(-1), rows = D * B;
  Tensor d_gates = at::empty({D, T, B, 4 * H}, gates.options()), dc = grad_c_last.contiguous().clone();
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "lstm_backward", [&] {
    using V = Vec<scalar_t>;
    const scalar_t *a_all = gates.const_data_ptr<scalar_t>(), *c_all = c.const_data_ptr<scalar_t>();
    const scalar_t *tanh_all = tanh_c.const_data_ptr<scalar_t>(), *gh_all = grad_h.const_data_ptr<scalar_t>();
    scalar_t *d_all = d_gates.data_ptr<scalar_t>(), *dc_all = dc.data_ptr<scalar_t>();
    by_blocks(D, B, [&](int64_t d, int64_t b0, int64_t b1) {
      for (int64_t t = T - 1; t >= 0; --t) {
        // delta a(t + 1) W_hh for the block, (b1 - b0, H)
        const Tensor p =
            t < T - 1 ? linear(d_gates[d][t + 1].narrow(0, b0, b1 - b0), weight_hh_t[d], onednn) : Tensor();
        for (int64_t b = b0; b < b1; ++b) {
          const int64_t r = d * B + b, row = t * rows + r;
          const scalar_t *a = a_all + row * 4 * H, *c_prev = c_all + row * H, *tc = tanh_all + row * H;
          const scalar_t* gh = gh_all + d * grad_h.stride(0) + t * grad_h.stride(1) + b * grad_h.stride(2);
          const scalar_t* p_r = p.defined() ? p.const_data_ptr<scalar_t>() + (b - b0) * H : nullptr;
          const scalar_t* f_next = a + rows * 4 * H + H;  // f(t + 1), read where t < T - 1
          scalar_t *d_a = d_all + ((d * T + t) * B + b) * 4 * H, *dc_r = dc_all + r * H;
          lanes<scalar_t>(0, H, [&](int64_t j, int64_t m) {
            const V i = ld(a + j, m), f = ld(a + H + j, m), s2g = ld(a + 2 * H + j, m), o = ld(a + 3 * H + j, m);
            const V tanh_c_j = ld(tc + j, m);
            // the factors without delta, as the Python loop computes them: sigmoid' = fmadd(-s, s, s), g = 2 s - 1
            const V g = s2g * V(2) - V(1);
            const V dh_to_dc = at::vec::fmadd(V(-1) * o, tanh_c_j * tanh_c_j, o);  // o (1 - tanh^2 c)
            // delta h(t) and delta c(t)
            const V dh = p_r ? ld(gh + j, m) + ld(p_r + j, m) : ld(gh + j, m);
            const V dc_next = p_r ? ld(dc_r + j, m) * ld(f_next + j, m) : ld(dc_r + j, m);
            const V dc_t = at::vec::fmadd(dh, dh_to_dc, dc_next);
            st(dc_t, dc_r + j, m);
            st(at::vec::fmadd(V(-1) * i, i, i) * g * dc_t, d_a + j, m);
            st(at::vec::fmadd(V(-1) * f, f, f) * ld(c_prev + j, m) * dc_t, d_a + H + j, m);
            st(at::vec::fmadd(V(-1) * i, g * g, i) * dc_t, d_a + 2 * H + j, m);
            st(at::vec::fmadd(V(-1) * o, o, o) * tanh_c_j * dh, d_a + 3 * H + j, m);
          });
        }
      }
    });
  });
  return {d_gates, dc};
}

// PeepholeLSTMFunction.forward's loop. gates (T, B, 4H) holds the input terms of i, f, o and the cell input and
// becomes i, f, o, cell input; c (T + 1, B, H) holds c(0)
void peephole_forward(const Tensor& gates, const Tensor& weight_hh, const Tensor& h, const Tensor& c,
                      const Tensor& tanh_c, bool onednn) {
  const int64_t T = gates.size(0), B = gates.size(1), H = c.size(-1);
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "peephole_forward", [&] {
    using V = Vec<scalar_t>;
    // the Python's sigmoid_ of the cell input before the loop (rows of H, 4H apart), of a[:, :3H] in the loop (rows
    // of 3H, 4H apart) and of tanh_c[t]
    const Split<scalar_t> input_split(T * B * H, H), gate_split(B * 3 * H, 3 * H), tanh_split(B * H, B * H);
    scalar_t *a_all = gates.data_ptr<scalar_t>(), *c_all = c.data_ptr<scalar_t>();
    scalar_t *tanh_all = tanh_c.data_ptr<scalar_t>(), *h_all = h.data_ptr<scalar_t>();
    by_blocks(1, B, [&](int64_t, int64_t b0, int64_t b1) {
      for (int64_t t = 0; t < T; ++t) {
        const Tensor p = linear(c[t].narrow(0, b0, b1 - b0), weight_hh, onednn);  // (b1 - b0, 3H)
        for (int64_t r = b0; r < b1; ++r) {
          const int64_t row = t * B + r;
          const scalar_t *p_r = p.const_data_ptr<scalar_t>() + (r - b0) * 3 * H, *c_prev = c_all + row * H;
          scalar_t *a = a_all + row * 4 * H, *c_t = c_all + (row + B) * H, *tanh_t = tanh_all + row * H;
          // (35)-(37): the peephole terms added, i, f and o through one sigmoid
          with_sigmoid<scalar_t>(
              3 * H, r * 3 * H, gate_split, [&](int64_t j, int64_t m) { return ld(a + j, m) + ld(p_r + j, m); },
              [&](int64_t j, int64_t m, const V& s) { st(s, a + j, m); });
          // (38): the cell input sigmoid(W_cx x + b_c); torch.mul(c_prev, f).addcmul_(c_in, i); (39): h = tanh c(t) o
          scalar_t* c_in = a + 3 * H;
          with_sigmoid<scalar_t>(
              H, row * H, input_split, [&](int64_t j, int64_t m) { return ld(c_in + j, m); },
              [&](int64_t j, int64_t m, const V& s) { st(s, c_in + j, m); });
          const scalar_t *i = a, *f = a + H, *o = a + 2 * H;
          with_tanh<scalar_t>(
              H, r, tanh_split,
              [&](int64_t j, int64_t m) {
                const V c_j = at::vec::fmadd(ld(c_in + j, m), ld(i + j, m), ld(c_prev + j, m) * ld(f + j, m));
                st(c_j, c_t + j, m);
                return c_j;
              },
              [&](int64_t j, int64_t m, const V& tanh_c_j) {
                st(tanh_c_j, tanh_t + j, m);
                st(tanh_c_j * ld(o + j, m), h_all + row * H + j, m);
              });
        }
      }
    });
  });
}

// PeepholeLSTMFunction.backward's loop with its factors: returns d_gates (T, B, 4H), in the order i, f, o, cell
// input, and delta c(1) (B, H)
std::tuple<Tensor, Tensor> peephole_backward(const Tensor& gates, const Tensor& c, const Tensor& tanh_c,
                                             const Tensor& grad_h_in, const Tensor& grad_c_in, const Tensor& weight_t,
                                             bool onednn) {
  const Tensor grad_h = grad_h_in.contiguous(), grad_c_last = grad_c_in.contiguous();
  const int64_t T = gates.size(0), B = gates.size(1), H = c.size(-1);
  Tensor d_gates = at::empty_like(gates), dc = at::empty_like(grad_c_last);
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "peephole_backward", [&] {
    using V = Vec<scalar_t>;
    const scalar_t *a_all = gates.const_data_ptr<scalar_t>(), *c_all = c.const_data_ptr<scalar_t>();
    const scalar_t *tanh_all = tanh_c.const_data_ptr<scalar_t>(), *gh_all = grad_h.const_data_ptr<scalar_t>();
    const scalar_t* dc_last = grad_c_last.const_data_ptr<scalar_t>();
    scalar_t *d_all = d_gates.data_ptr<scalar_t>(), *dc_all = dc.data_ptr<scalar_t>();
    by_blocks(1, B, [&](int64_t, int64_t b0, int64_t b1) {
      for (int64_t t = T - 1; t >= 0; --t) {
        // the gates of step t + 1 read c(t): [delta a_i, delta a_f, delta a_o](t + 1) W_hh for the block
        const Tensor p = t < T - 1
                             ? linear(d_gates[t + 1].narrow(0, b0, b1 - b0).narrow(-1, 0, 3 * H), weight_t, onednn)
                             : Tensor();
        for (int64_t r = b0; r < b1; ++r) {
          const int64_t row = t * B + r;
          const scalar_t *a = a_all + row * 4 * H, *c_prev = c_all + row * H, *tc = tanh_all + row * H;
          const scalar_t *gh = gh_all + row * H, *f_next = a + B * 4 * H + H;  // f(t + 1), read where t < T - 1
          const scalar_t* p_r = p.defined() ? p.const_data_ptr<scalar_t>() + (r - b0) * H : nullptr;
          scalar_t *d_a = d_all + row * 4 * H, *dc_r = dc_all + r * H;
          lanes<scalar_t>(0, H, [&](int64_t j, int64_t m) {
            const V i = ld(a + j, m), f = ld(a + H + j, m), o = ld(a + 2 * H + j, m), c_in = ld(a + 3 * H + j, m);
            const V tanh_c_j = ld(tc + j, m), dh = ld(gh + j, m);
            const V dc_from_h = at::vec::fmadd(V(-1) * o, tanh_c_j * tanh_c_j, o) * dh;  // delta h o (1 - tanh^2 c)
            // delta c(t): the product, fmadd delta c(t + 1) f(t + 1), plus dc_from_h; delta c(T) + dc_from_h last
            const V dc_t = p_r ? at::vec::fmadd(ld(dc_r + j, m), ld(f_next + j, m), ld(p_r + j, m)) + dc_from_h
                               : ld(dc_last + r * H + j, m) + dc_from_h;
            st(dc_t, dc_r + j, m);
            st(at::vec::fmadd(V(-1) * i, i, i) * c_in * dc_t, d_a + j, m);
            st(at::vec::fmadd(V(-1) * f, f, f) * ld(c_prev + j, m) * dc_t, d_a + H + j, m);
            st(at::vec::fmadd(V(-1) * o, o, o) * tanh_c_j * dh, d_a + 2 * H + j, m);
            st(at::vec::fmadd(V(-1) * c_in, c_in, c_in) * i * dc_t, d_a + 3 * H + j, m);
          });
        }
      }
    });
  });
  return {d_gates, dc};
}

// GRUFunction.forward's loop: x_proj (T, B, 3H) the input terms of z, r, h~; fills zr (T, B, 2H), h_tilde, rh
// (r * h(t-1)) and h (T, B, H)
void gru_forward(const Tensor& x_proj, const Tensor& weight_zr, const Tensor& weight_n, const Tensor& h0_in,
                 const Tensor& zr, const Tensor& h_tilde, const Tensor& rh, const Tensor& h, bool onednn) {
  const Tensor h0 = h0_in.contiguous();
  const int64_t T = x_proj.size(0), B = x_proj.size(1), H = h0.size(-1);
  AT_DISPATCH_FLOATING_TYPES(x_proj.scalar_type(), "gru_forward", [&] {
    using V = Vec<scalar_t>;
    // the Python loop's sigmoid_ of zr[t] and of h_tilde[t], contiguous
    const Split<scalar_t> gate_split(B * 2 * H, B * 2 * H), tanh_split(B * H, B * H);
    const scalar_t* x_all = x_proj.const_data_ptr<scalar_t>();
    scalar_t *zr_all = zr.data_ptr<scalar_t>(), *rh_all = rh.data_ptr<scalar_t>();
    scalar_t *n_all = h_tilde.data_ptr<scalar_t>(), *h_all = h.data_ptr<scalar_t>();
    by_blocks(1, B, [&](int64_t, int64_t b0, int64_t b1) {
      for (int64_t t = 0; t < T; ++t) {
        const Tensor h_prev = (t == 0 ? h0 : h[t - 1]).narrow(0, b0, b1 - b0);
        // (29), (30): both gates' recurrent terms in one product
        const Tensor p_zr = linear(h_prev, weight_zr, onednn);  // (b1 - b0, 2H)
        for (int64_t r = b0; r < b1; ++r) {
          const int64_t row = t * B + r;
          const scalar_t *x = x_all + row * 3 * H, *p = p_zr.const_data_ptr<scalar_t>() + (r - b0) * 2 * H;
          const scalar_t* hp = h_prev.const_data_ptr<scalar_t>() + (r - b0) * H;
          scalar_t* zr_r = zr_all + row * 2 * H;
          with_sigmoid<scalar_t>(
              2 * H, r * 2 * H, gate_split, [&](int64_t j, int64_t m) { return ld(x + j, m) + ld(p + j, m); },
              [&](int64_t j, int64_t m, const V& s) { st(s, zr_r + j, m); });
          // (31): the reset gate scales h(t-1) before the product
          lanes<scalar_t>(0, H, [&](int64_t j, int64_t m) {
            st(ld(zr_r + H + j, m) * ld(hp + j, m), rh_all + row * H + j, m);
          });
        }
        const Tensor p_n = linear(rh[t].narrow(0, b0, b1 - b0), weight_n, onednn);  // (b1 - b0, H)
        for (int64_t r = b0; r < b1; ++r) {
          const int64_t row = t * B + r;
          const scalar_t *x = x_all + row * 3 * H + 2 * H, *p = p_n.const_data_ptr<scalar_t>() + (r - b0) * H;
          const scalar_t *z = zr_all + row * 2 * H, *hp = h_prev.const_data_ptr<scalar_t>() + (r - b0) * H;
          with_tanh<scalar_t>(
              H, r, tanh_split, [&](int64_t j, int64_t m) { return ld(x + j, m) + ld(p + j, m); },
              [&](int64_t j, int64_t m, const V& n) {
                st(n, n_all + row * H + j, m);
                // (32): torch.lerp(h(t-1), h~, z), as its kernel computes it
                const V start = ld(hp + j, m), weight = ld(z + j, m);
                const auto small = weight.abs() < V(0.5);
                const V coeff = V::blendv(weight - V(1), weight, small), base = V::blendv(n, start, small);
                st(at::vec::fmadd(coeff, n - start, base), h_all + row * H + j, m);
              });
        }
      }
    });
  });
}

// GRUFunction.backward's loop with its factors: h_prev (T, B, H) holds h(0..T-1); returns d_proj (T, B, 3H), the
// gradients of the pre-activations of z, r and h~, and delta h(0)
std::tuple<Tensor, Tensor> gru_backward(const Tensor& zr, const Tensor& h_tilde, const Tensor& h_prev,
                                        const Tensor& grad_h_in, const Tensor& weight_zr_t, const Tensor& weight_n_t,
                                        bool onednn) {
  const Tensor grad_h = grad_h_in.contiguous();
  const int64_t T = zr.size(0), B = zr.size(1), H = h_prev.size(-1);
  Tensor d_proj = at::empty({T, B, 3 * H}, zr.options()), dh = grad_h[T - 1].clone();
  AT_DISPATCH_FLOATING_TYPES(zr.scalar_type(), "gru_backward", [&] {
    using V = Vec<scalar_t>;
    const scalar_t *zr_all = zr.const_data_ptr<scalar_t>(), *n_all = h_tilde.const_data_ptr<scalar_t>();
    const scalar_t *hp_all = h_prev.const_data_ptr<scalar_t>(), *gh_all = grad_h.const_data_ptr<scalar_t>();
    scalar_t *d_all = d_proj.data_ptr<scalar_t>(), *dh_all = dh.data_ptr<scalar_t>();
    by_blocks(1, B, [&](int64_t, int64_t b0, int64_t b1) {
      for (int64_t t = T - 1; t >= 0; --t) {
        // delta a_z and delta a_h~: z (1 - z)(h~ - h(t-1)) delta h, z (1 - h~^2) delta h
        for (int64_t r = b0; r < b1; ++r) {
          const int64_t row = t * B + r;
          const scalar_t *z = zr_all + row * 2 * H, *n = n_all + row * H, *hp = hp_all + row * H;
          const scalar_t* dh_r = dh_all + r * H;
          scalar_t* d = d_all + row * 3 * H;
          lanes<scalar_t>(0, H, [&](int64_t j, int64_t m) {
            const V z_j = ld(z + j, m), n_j = ld(n + j, m), dh_j = ld(dh_r + j, m);
            st(at::vec::fmadd(V(-1) * z_j, z_j, z_j) * (n_j - ld(hp + j, m)) * dh_j, d + j, m);
            st(at::vec::fmadd(V(-1) * z_j, n_j * n_j, z_j) * dh_j, d + 2 * H + j, m);
          });
        }
        const Tensor d_proj_t = d_proj[t].narrow(0, b0, b1 - b0);
        const Tensor d_rh = linear(d_proj_t.narrow(-1, 2 * H, H), weight_n_t, onednn);  // delta (r * h(t-1))
        // delta a_r = r (1 - r) h(t-1) delta (r * h(t-1))
        for (int64_t r = b0; r < b1; ++r) {
          const int64_t row = t * B + r;
          const scalar_t *r_g = zr_all + row * 2 * H + H, *hp = hp_all + row * H;
          const scalar_t* d_rh_r = d_rh.const_data_ptr<scalar_t>() + (r - b0) * H;
          scalar_t* d_r = d_all + row * 3 * H + H;
          lanes<scalar_t>(0, H, [&](int64_t j, int64_t m) {
            const V r_j = ld(r_g + j, m);
            st(at::vec::fmadd(V(-1) * r_j, r_j, r_j) * ld(hp + j, m) * ld(d_rh_r + j, m), d_r + j, m);
          });
        }
        // delta h(t-1): through the gates' product, the interpolation (32) and the reset gate (31)
        const Tensor p = linear(d_proj_t.narrow(-1, 0, 2 * H), weight_zr_t, onednn);
        for (int64_t r = b0; r < b1; ++r) {
          const int64_t row = t * B + r;
          const scalar_t *z = zr_all + row * 2 * H, *d_rh_r = d_rh.const_data_ptr<scalar_t>() + (r - b0) * H;
          const scalar_t* p_r = p.const_data_ptr<scalar_t>() + (r - b0) * H;
          scalar_t* dh_r = dh_all + r * H;
          lanes<scalar_t>(0, H, [&](int64_t j, int64_t m) {
            V dh_j = at::vec::fmadd(ld(dh_r + j, m), V(1) - ld(z + j, m), ld(p_r + j, m));
            dh_j = at::vec::fmadd(ld(d_rh_r + j, m), ld(z + H + j, m), dh_j);
            st(t > 0 ? dh_j + ld(gh_all + (row - B) * H + j, m) : dh_j, dh_r + j, m);  // plus delta h(t-1)'s own
          });
        }
      }
    });
  });
  return {d_proj, dh};
}

// RNNFunction.forward's loop: h (T, B, H) holds the input terms and becomes h(1..T)
void rnn_forward(const Tensor& h, const Tensor& h0, const Tensor& weight_hh, bool onednn) {
  const int64_t T = h.size(0), B = h.size(1), H = h.size(2);
  AT_DISPATCH_FLOATING_TYPES(h.scalar_type(), "rnn_forward", [&] {
    // the Python loop's sigmoid_ of h[t], contiguous
    const Split<scalar_t> tanh_split(B * H, B * H);
    scalar_t* h_all = h.data_ptr<scalar_t>();
    by_blocks(1, B, [&](int64_t, int64_t b0, int64_t b1) {
      for (int64_t t = 0; t < T; ++t) {
        const Tensor p = linear((t == 0 ? h0 : h[t - 1]).narrow(0, b0, b1 - b0), weight_hh, onednn);
        for (int64_t r = b0; r < b1; ++r) {
          scalar_t* a = h_all + (t * B + r) * H;
          const scalar_t* p_r = p.const_data_ptr<scalar_t>() + (r - b0) * H;
          // (1)
          with_tanh<scalar_t>(
              H, r, tanh_split, [&](int64_t j, int64_t m) { return ld(a + j, m) + ld(p_r + j, m); },
              [&](int64_t j, int64_t m, const Vec<scalar_t>& h_j) { st(h_j, a + j, m); });
        }
      }
    });
  });
}

// RNNFunction.backward's loop with its factor: returns delta a (T, B, H), (1 - h^2) delta h
Tensor rnn_backward(const Tensor& h, const Tensor& grad_h_in, const Tensor& weight_t, bool onednn) {
  const Tensor grad_h = grad_h_in.contiguous();
  const int64_t T = h.size(0), B = h.size(1), H = h.size(2);
  Tensor d_a = at::empty_like(h);
  AT_DISPATCH_FLOATING_TYPES(h.scalar_type(), "rnn_backward", [&] {
    using V = Vec<scalar_t>;
    const scalar_t *h_all = h.const_data_ptr<scalar_t>(), *gh_all = grad_h.const_data_ptr<scalar_t>();
    scalar_t* d_all = d_a.data_ptr<scalar_t>();
    by_blocks(1, B, [&](int64_t, int64_t b0, int64_t b1) {
      for (int64_t t = T - 1; t >= 0; --t) {
        // delta a(t + 1) W_hh for the block
        const Tensor p = t < T - 1 ? linear(d_a[t + 1].narrow(0, b0, b1 - b0), weight_t, onednn) : Tensor();
        for (int64_t r = b0; r < b1; ++r) {
          const int64_t row = (t * B + r) * H;
          const scalar_t* p_r = p.defined() ? p.const_data_ptr<scalar_t>() + (r - b0) * H : nullptr;
          lanes<scalar_t>(0, H, [&](int64_t j, int64_t m) {
            const V h_j = ld(h_all + row + j, m), g_j = ld(gh_all + row + j, m);
            st((V(1) - h_j * h_j) * (p_r ? ld(p_r + j, m) + g_j : g_j), d_all + row + j, m);
          });
        }
      }
    });
  });
  return d_a;
}

}  // namespace

TORCH_LIBRARY(seqgraph_fused, m) {
  m.def("loop_threads(int n) -> int", &loop_threads);
  m.def("lstm_forward(Tensor[] x_proj, Tensor[] weight_hh, Tensor h0, Tensor(a!) gates, Tensor(b!) h, Tensor(c!) c, "
        "Tensor(d!) tanh_c, bool onednn) -> ()", &lstm_forward);
  m.def("lstm_backward(Tensor gates, Tensor c, Tensor tanh_c, Tensor grad_h, Tensor grad_c_last, "
        "Tensor[] weight_hh_t, bool onednn) -> (Tensor, Tensor)", &lstm_backward);
  m.def("peephole_forward(Tensor(a!) gates, Tensor weight_hh, Tensor(b!) h, Tensor(c!) c, Tensor(d!) tanh_c, "
        "bool onednn) -> ()", &peephole_forward);
  m.def("peephole_backward(Tensor gates, Tensor c, Tensor tanh_c, Tensor grad_h, Tensor grad_c_last, "
        "Tensor weight_t, bool onednn) -> (Tensor, Tensor)", &peephole_backward);
  m.def("gru_forward(Tensor x_proj, Tensor weight_zr, Tensor weight_n, Tensor h0, Tensor(a!) zr, "
        "Tensor(b!) h_tilde, Tensor(c!) rh, Tensor(d!) h, bool onednn) -> ()", &gru_forward);
  m.def("gru_backward(Tensor zr, Tensor h_tilde, Tensor h_prev, Tensor grad_h, Tensor weight_zr_t, "
        "Tensor weight_n_t, bool onednn) -> (Tensor, Tensor)", &gru_backward);
  m.def("rnn_forward(Tensor(a!) h, Tensor h0, Tensor weight_hh, bool onednn) -> ()", &rnn_forward);
  m.def("rnn_backward(Tensor h, Tensor grad_h, Tensor weight_t, bool onednn) -> Tensor", &rnn_backward);
}
