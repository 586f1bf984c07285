/* kiln devices: what this kiln can run on, with each Vulkan device's facts
 * (the ones kernels are chosen from). */
#include <stdio.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#ifdef KILN_WITH_VULKAN
#include "kiln/vulkan.h"
#endif

int cmd_devices(int argc, char **argv) {
    int validation = 0;
    const opt_spec opts[] = {
        {"validation", 0, OPT_FLAG, &validation, NULL, "enable the Khronos validation layer while listing"},
        {0},
    };
    const command_spec spec = {
        "devices", "[options]", "List the devices kiln can run on: the CPU, and every Vulkan device with its limits "
        "and features.",
        "Select one with --device cpu, --device vulkan (the best: discrete > integrated > virtual > cpu) or\n"
        "--device vulkan:N. Set KILN_VK_VALIDATION=1 to run any command under the validation layer.",
        opts, 0, 0};
    int npos;
    const char *pos[1];
    int r = parse_args(&spec, argc, argv, pos, &npos);
    if (r) return r == 1 ? 0 : 2;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("cpu       the host CPU (%ld hardware threads)\n", cores);
    printf("ref       the reference interpreter (slow, for checking)\n\n");
#ifdef KILN_WITH_VULKAN
    kiln_vk_options vo = {.validation = validation};
    kiln_vk_instance *inst = NULL;
    kiln_status s = kiln_vk_instance_create(&vo, &inst);
    if (s) {
        printf("vulkan    unavailable: %s\n", kiln_status_message(s));
        kiln_status_free(s);
        return 0;
    }
    int best = -1;
    s = kiln_vk_select_device(inst, "vulkan", &best);
    kiln_status_free(s);
    for (int i = 0; i < kiln_vk_device_count(inst); i++) {
        kiln_vk_device_info_print(kiln_vk_device_info_at(inst, i), stdout);
        if (i == best) printf("  (the default for --device vulkan)\n");
        printf("\n");
    }
    uint64_t msgs = kiln_vk_validation_messages(inst);
    kiln_vk_instance_destroy(inst);
    return msgs ? 1 : 0;
#else
    (void)validation;
    printf("vulkan    not built into this kiln (configure with -DKILN_WITH_VULKAN=ON)\n");
    return 0;
#endif
}
