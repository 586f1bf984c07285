/* The Vulkan instance: loader, optional validation layer with a messenger
 * that prints and counts every message, and the list of devices. */
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                 VkDebugUtilsMessageTypeFlagsEXT types,
                                                 const VkDebugUtilsMessengerCallbackDataEXT *data, void *user) {
    kiln_vk_instance *inst = user;
    /* The loader's own notes (no driver found, a manifest missing) reach the
     * messenger while the instance is created; kiln reports those failures
     * itself in one line, so they are neither printed nor counted. */
    if (types == VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT && data && data->pMessageIdName &&
        strcmp(data->pMessageIdName, "Loader Message") == 0)
        return VK_FALSE;
    atomic_fetch_add(&inst->messages, 1);
    const char *level = (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) ? "error" : "warning";
    fprintf(stderr, "kiln: vulkan validation %s [%s]: %s\n", level,
            data && data->pMessageIdName ? data->pMessageIdName : "-",
            data && data->pMessage ? data->pMessage : "(no message)");
    return VK_FALSE;
}

static int has_layer(const kvk_global_fns *g, const char *name) {
    uint32_t n = 0;
    if (g->vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0) return 0;
    VkLayerProperties *p = calloc(n, sizeof *p);
    if (!p) return 0;
    int found = 0;
    if (g->vkEnumerateInstanceLayerProperties(&n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n; i++) found |= strcmp(p[i].layerName, name) == 0;
    free(p);
    return found;
}

/* Whether the loader (layer NULL) or a layer offers instance extension ext. */
static int has_extension(const kvk_global_fns *g, const char *layer, const char *ext) {
    uint32_t n = 0;
    if (g->vkEnumerateInstanceExtensionProperties(layer, &n, NULL) != VK_SUCCESS || n == 0) return 0;
    VkExtensionProperties *p = calloc(n, sizeof *p);
    if (!p) return 0;
    int found = 0;
    if (g->vkEnumerateInstanceExtensionProperties(layer, &n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n; i++) found |= strcmp(p[i].extensionName, ext) == 0;
    free(p);
    return found;
}

static int validation_wanted(const kiln_vk_options *opts) {
    if (opts && opts->validation) return 1;
    const char *e = getenv("KILN_VK_VALIDATION");
    return e && *e && strcmp(e, "0") != 0;
}

static kiln_status load_instance_fns(kiln_vk_instance *inst) {
    PFN_vkGetInstanceProcAddr gipa = inst->g.vkGetInstanceProcAddr;
#define KVK_LOAD_INSTANCE(name)                                                                   \
    inst->fn.name = (PFN_##name)gipa(inst->instance, #name);                                      \
    if (!inst->fn.name)                                                                           \
        return kiln_error(KILN_ERR_DEVICE, "vulkan: the loader does not provide %s; " KVK_CPU_HINT, #name);
    KVK_INSTANCE_FNS(KVK_LOAD_INSTANCE)
#undef KVK_LOAD_INSTANCE
    inst->fn.vkCreateDebugUtilsMessengerEXT =
        (PFN_vkCreateDebugUtilsMessengerEXT)gipa(inst->instance, "vkCreateDebugUtilsMessengerEXT");
    inst->fn.vkDestroyDebugUtilsMessengerEXT =
        (PFN_vkDestroyDebugUtilsMessengerEXT)gipa(inst->instance, "vkDestroyDebugUtilsMessengerEXT");
    inst->fn.vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR =
        (kvk_pfn_coopmat_props)gipa(inst->instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR");
    inst->fn.vkGetPhysicalDeviceCooperativeMatrixPropertiesNV = (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV)gipa(
        inst->instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV");
    return KILN_OK;
}

static kiln_status create_vk_instance(kiln_vk_instance *inst) {
    const kvk_global_fns *g = &inst->g;
    uint32_t loader_version = 0;
    KVK_CHECK(g->vkEnumerateInstanceVersion(&loader_version), "vkEnumerateInstanceVersion");
    if (loader_version < VK_API_VERSION_1_1)
        return kiln_error(KILN_ERR_DEVICE,
                          "vulkan: the Vulkan loader supports version %u.%u only; kiln needs 1.1 or newer; " KVK_CPU_HINT,
                          VK_API_VERSION_MAJOR(loader_version), VK_API_VERSION_MINOR(loader_version));
    inst->api_version = loader_version < VK_API_VERSION_1_3 ? loader_version : VK_API_VERSION_1_3;

    const char *layers[1];
    uint32_t nlayers = 0;
    const char *exts[4];
    uint32_t nexts = 0;
    int debug_utils = 0, features = 0;
    if (inst->validation) {
        if (!has_layer(g, VALIDATION_LAYER))
            return kiln_error(KILN_ERR_DEVICE,
                              "vulkan: validation was requested (KILN_VK_VALIDATION or the API) but the layer " VALIDATION_LAYER
                              " is not installed (Debian/Ubuntu: vulkan-validationlayers)");
        layers[nlayers++] = VALIDATION_LAYER;
        debug_utils = has_extension(g, NULL, VK_EXT_DEBUG_UTILS_EXTENSION_NAME) ||
                      has_extension(g, VALIDATION_LAYER, VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
        if (!debug_utils)
            return kiln_error(KILN_ERR_DEVICE, "vulkan: validation needs " VK_EXT_DEBUG_UTILS_EXTENSION_NAME
                                               ", which neither the loader nor the layer offers");
        exts[nexts++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
        features = has_extension(g, VALIDATION_LAYER, VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME);
        if (features) exts[nexts++] = VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME;
    }
    int portability = has_extension(g, NULL, "VK_KHR_portability_enumeration");
    if (portability) exts[nexts++] = "VK_KHR_portability_enumeration";

    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "kiln",
        .applicationVersion = 1,
        .pEngineName = "kiln",
        .engineVersion = 1,
        .apiVersion = inst->api_version,
    };
    /* Synchronization validation checks the barriers the recorder inserts. */
    VkValidationFeatureEnableEXT enables[] = {VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
    VkValidationFeaturesEXT vfeatures = {
        .sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
        .enabledValidationFeatureCount = 1,
        .pEnabledValidationFeatures = enables,
    };
    VkDebugUtilsMessengerCreateInfoEXT mci = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = on_message,
        .pUserData = inst,
    };
    if (features) mci.pNext = &vfeatures;
    VkInstanceCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pNext = debug_utils ? &mci : NULL,
        .flags = portability ? 0x00000001 /* VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR */ : 0,
        .pApplicationInfo = &app,
        .enabledLayerCount = nlayers,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = nexts,
        .ppEnabledExtensionNames = exts,
    };
    VkResult r = g->vkCreateInstance(&ci, NULL, &inst->instance);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
        return kiln_error(KILN_ERR_DEVICE,
                          "vulkan: no Vulkan driver (ICD) was found, or none supports Vulkan 1.1 (install one: "
                          "mesa-vulkan-drivers, or the GPU vendor's driver; VK_DRIVER_FILES/VK_ICD_FILENAMES "
                          "choose a driver manifest); " KVK_CPU_HINT);
    if (r != VK_SUCCESS) return kvk_fail(r, "vkCreateInstance");
    KILN_TRY(load_instance_fns(inst));
    if (debug_utils) {
        if (!inst->fn.vkCreateDebugUtilsMessengerEXT)
            return kiln_error(KILN_ERR_DEVICE, "vulkan: vkCreateDebugUtilsMessengerEXT is missing");
        mci.pNext = NULL;
        KVK_CHECK(inst->fn.vkCreateDebugUtilsMessengerEXT(inst->instance, &mci, NULL, &inst->messenger),
                  "vkCreateDebugUtilsMessengerEXT");
    }
    return KILN_OK;
}

static kiln_status list_devices(kiln_vk_instance *inst) {
    uint32_t n = 0;
    KVK_CHECK(inst->fn.vkEnumeratePhysicalDevices(inst->instance, &n, NULL), "vkEnumeratePhysicalDevices");
    if (n == 0)
        return kiln_error(KILN_ERR_DEVICE,
                          "vulkan: the Vulkan driver reports no devices (no GPU, or its driver is not loaded; "
                          "lavapipe from mesa-vulkan-drivers runs Vulkan on the CPU); " KVK_CPU_HINT);
    VkPhysicalDevice *pds = calloc(n, sizeof *pds);
    inst->devices = calloc(n, sizeof *inst->devices);
    if (!pds || !inst->devices) {
        free(pds);
        return kiln_error(KILN_ERR_NOMEM, "vulkan: out of memory listing %u devices", n);
    }
    VkResult r = inst->fn.vkEnumeratePhysicalDevices(inst->instance, &n, pds);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
        free(pds);
        return kvk_fail(r, "vkEnumeratePhysicalDevices");
    }
    kiln_status s = KILN_OK;
    for (uint32_t i = 0; i < n && !s; i++) s = kvk_physical_query(inst, pds[i], (int)i, &inst->devices[i]);
    free(pds);
    if (!s) inst->ndevices = (int)n;
    return s;
}

kiln_status kiln_vk_instance_create(const kiln_vk_options *opts, kiln_vk_instance **out) {
    if (!out) return kiln_error(KILN_ERR_INVALID, "kiln_vk_instance_create: out is NULL");
    *out = NULL;
    kiln_vk_instance *inst = calloc(1, sizeof *inst);
    if (!inst) return kiln_error(KILN_ERR_NOMEM, "vulkan: out of memory");
    atomic_init(&inst->messages, 0);
    inst->validation = validation_wanted(opts);
    inst->no_cache = opts ? opts->no_cache : 0;
    if (opts && opts->cache_dir) {
        inst->cache_dir = strdup(opts->cache_dir);
        if (!inst->cache_dir) {
            free(inst);
            return kiln_error(KILN_ERR_NOMEM, "vulkan: out of memory");
        }
    }
    kiln_status s = kvk_loader_open(&inst->g);
    if (!s) s = create_vk_instance(inst);
    if (!s) s = list_devices(inst);
    if (s) {
        kiln_vk_instance_destroy(inst);
        return s;
    }
    *out = inst;
    return KILN_OK;
}

void kiln_vk_instance_destroy(kiln_vk_instance *inst) {
    if (!inst) return;
    if (inst->instance) {
        if (inst->messenger && inst->fn.vkDestroyDebugUtilsMessengerEXT)
            inst->fn.vkDestroyDebugUtilsMessengerEXT(inst->instance, inst->messenger, NULL);
        if (inst->fn.vkDestroyInstance) inst->fn.vkDestroyInstance(inst->instance, NULL);
    }
    free(inst->devices);
    free(inst->cache_dir);
    free(inst);
}

int kiln_vk_device_count(const kiln_vk_instance *inst) { return inst ? inst->ndevices : 0; }

const kiln_vk_device_info *kiln_vk_device_info_at(const kiln_vk_instance *inst, int index) {
    if (!inst || index < 0 || index >= inst->ndevices) return NULL;
    return &inst->devices[index].info;
}

uint64_t kiln_vk_validation_messages(const kiln_vk_instance *inst) {
    return inst ? (uint64_t)atomic_load(&((kiln_vk_instance *)inst)->messages) : 0;
}

int kiln_vk_validation_enabled(const kiln_vk_instance *inst) { return inst ? inst->validation : 0; }
