/* GLSL sources of the .comp files in backends/vulkan/shaders, embedded at build time by
 * cmake/vulkan.cmake so the binary needs no shader files beside it. */
#ifndef KILN_VK_SHADERS_H
#define KILN_VK_SHADERS_H

typedef struct kvk_shader_entry {
    const char *name; /* file name without .comp */
    const char *text;
} kvk_shader_entry;

extern const kvk_shader_entry kvk_shader_table[];

/* The source of shader `name`, or NULL when there is none. */
const char *kvk_shader_source(const char *name);

#endif
