/* The device report `kiln devices` prints. */
#include <stdio.h>

#include "vk_internal.h"

const char *kiln_vk_device_type_name(kiln_vk_device_type t) {
    switch (t) {
    case KILN_VK_TYPE_DISCRETE: return "discrete GPU";
    case KILN_VK_TYPE_INTEGRATED: return "integrated GPU";
    case KILN_VK_TYPE_VIRTUAL: return "virtual GPU";
    case KILN_VK_TYPE_CPU: return "CPU";
    default: return "other";
    }
}

const char *kiln_vk_component_name(uint32_t t) {
    switch (t) {
    case 0: return "f16";
    case 1: return "f32";
    case 2: return "f64";
    case 3: return "i8";
    case 4: return "i16";
    case 5: return "i32";
    case 6: return "i64";
    case 7: return "u8";
    case 8: return "u16";
    case 9: return "u32";
    case 10: return "u64";
    case 1000141000: return "bf16";
    case 1000491000: return "i8x4";
    case 1000491001: return "u8x4";
    case 1000491002: return "e4m3";
    case 1000491003: return "e5m2";
    default: return "?";
    }
}

static const char *scope_name(uint32_t s) {
    switch (s) {
    case 1: return "device";
    case 2: return "workgroup";
    case 3: return "subgroup";
    case 5: return "queue family";
    default: return "?";
    }
}

static void print_bytes(FILE *f, uint64_t b) {
    if (b >= (1ull << 30)) fprintf(f, "%.1f GiB", (double)b / (1ull << 30));
    else if (b >= (1ull << 20)) fprintf(f, "%.1f MiB", (double)b / (1ull << 20));
    else if (b >= 1024) fprintf(f, "%.1f KiB", (double)b / 1024);
    else fprintf(f, "%llu bytes", (unsigned long long)b);
}

static void print_driver_version(FILE *f, const kiln_vk_device_info *d) {
    uint32_t v = d->driver_version;
    if (d->vendor_id == 0x10DE) /* NVIDIA packs 10.8.8.6 bits */
        fprintf(f, "%u.%u.%u", v >> 22, (v >> 14) & 0xff, (v >> 6) & 0xff);
    else
        fprintf(f, "%u.%u.%u", VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v), VK_API_VERSION_PATCH(v));
}

static const char *yn(int b) { return b ? "yes" : "no"; }

void kiln_vk_device_info_print(const kiln_vk_device_info *d, FILE *f) {
    if (!d || !f) return;
    fprintf(f, "vulkan:%d  %s\n", d->index, d->name);
    fprintf(f, "  type            %s, vendor %s (0x%04x), device 0x%04x\n", kiln_vk_device_type_name(d->type), d->vendor,
            d->vendor_id, d->device_id);
    fprintf(f, "  api             Vulkan %u.%u.%u\n", VK_API_VERSION_MAJOR(d->api_version),
            VK_API_VERSION_MINOR(d->api_version), VK_API_VERSION_PATCH(d->api_version));
    if (!d->usable) {
        fprintf(f, "  unusable        %s\n", d->unusable_reason);
        return;
    }
    fprintf(f, "  driver          %s%s%s%s version ", d->driver_name[0] ? d->driver_name : "(unnamed)",
            d->driver_info[0] ? " (" : "", d->driver_info, d->driver_info[0] ? ")" : "");
    print_driver_version(f, d);
    fprintf(f, "\n  subgroup        %u", d->subgroup_size);
    if (d->min_subgroup_size != d->max_subgroup_size)
        fprintf(f, " (varies %u..%u)", d->min_subgroup_size, d->max_subgroup_size);
    fprintf(f, ", arithmetic %s, size control %s\n", yn(d->subgroup_arithmetic), yn(d->subgroup_size_control));
    fprintf(f, "  workgroup       %u invocations, size %u x %u x %u, count %u x %u x %u\n",
            d->max_workgroup_invocations, d->max_workgroup_size[0], d->max_workgroup_size[1], d->max_workgroup_size[2],
            d->max_workgroup_count[0], d->max_workgroup_count[1], d->max_workgroup_count[2]);
    fprintf(f, "  shared memory   ");
    print_bytes(f, d->max_shared_memory);
    fprintf(f, " per workgroup\n  storage buffer  range ");
    print_bytes(f, d->max_storage_buffer_range);
    fprintf(f, ", offset alignment %llu, max allocation ", (unsigned long long)d->min_storage_buffer_offset_alignment);
    print_bytes(f, d->max_memory_allocation_size);
    fprintf(f, "\n  push constants  %u bytes\n", d->max_push_constants);
    for (int i = 0; i < d->nheaps; i++) {
        fprintf(f, "  memory heap %-3d ", i);
        print_bytes(f, d->heaps[i].size);
        fprintf(f, "%s\n", d->heaps[i].device_local ? ", device-local" : "");
    }
    fprintf(f, "  arithmetic      fp16 %s, int8 %s\n", yn(d->fp16_arithmetic), yn(d->int8_arithmetic));
    fprintf(f, "  storage         16-bit %s, 8-bit %s\n", yn(d->storage16), yn(d->storage8));
    fprintf(f, "  coop. matrix    %s", d->cooperative_matrix ? "VK_KHR_cooperative_matrix" : "no");
    if (d->cooperative_matrix) fprintf(f, ", %d shape(s)", d->ncoopmat);
    fputc('\n', f);
    for (int i = 0; i < d->ncoopmat; i++) {
        const kiln_vk_coopmat_shape *s = &d->coopmat[i];
        fprintf(f, "                  %ux%ux%u  A %s  B %s  C %s  result %s%s  (%s)\n", s->m, s->n, s->k,
                kiln_vk_component_name(s->a_type), kiln_vk_component_name(s->b_type), kiln_vk_component_name(s->c_type),
                kiln_vk_component_name(s->result_type), s->saturating ? " saturating" : "", scope_name(s->scope));
    }
    if (d->timestamps) fprintf(f, "  timestamps      yes, %.3g ns per tick\n", d->timestamp_period_ns);
    else fprintf(f, "  timestamps      no (profiles unavailable)\n");
}
