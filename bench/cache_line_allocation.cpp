// Every allocation of the benchmark process starts on a 64-byte boundary,
// as PyTorch's and ONNX Runtime's CPU allocators place their tensors (the
// anchors, timed in their own process). A large std::vector otherwise
// starts 16 bytes into a page, so that every 64-byte vector access
// straddles two cache lines, and how an output lies against its input then
// sets a kernel's speed. On the Intel Xeon virtual machine, 2 threads,
// LayerNorm 256x(50x8x8) took 127-142 us (most near 130) with its input and
// output on 64-byte boundaries, whatever the distance between them, and
// 133-163 us with the input 16 bytes past one (a standalone driver,
// 2026-11-27); the benchmark timed normgen's default dispatch 1.2x slower
// than the same kernel forced to its variant, their outputs 16 bytes apart.
#include <cstdlib>
#include <new>

namespace {

constexpr std::size_t cache_line = 64;

void *allocate_on_cache_line(std::size_t size) {
    // aligned_alloc wants a multiple of the alignment (and 0 may give null).
    const std::size_t rounded = (size / cache_line + 1) * cache_line;
    return std::aligned_alloc(cache_line, rounded);
}

}  // namespace

void *operator new(std::size_t size) {
    if (void *memory = allocate_on_cache_line(size)) return memory;
    throw std::bad_alloc();
}
void *operator new[](std::size_t size) { return operator new(size); }
void *operator new(std::size_t size, const std::nothrow_t &) noexcept {
    return allocate_on_cache_line(size);
}
void *operator new[](std::size_t size, const std::nothrow_t &) noexcept {
    return allocate_on_cache_line(size);
}
void operator delete(void *memory) noexcept { std::free(memory); }
void operator delete[](void *memory) noexcept { std::free(memory); }
void operator delete(void *memory, std::size_t) noexcept { std::free(memory); }
void operator delete[](void *memory, std::size_t) noexcept { std::free(memory); }
