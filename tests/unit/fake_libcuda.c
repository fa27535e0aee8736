/* A stand-in for libcuda.so.1 so that host detection's real dlopen/dlsym path can be tested
 * without a GPU. Configured when called, through the environment:
 *   KGET_FAKE_CUDA_INIT     result code of cuInit (default 0)
 *   KGET_FAKE_CUDA_VERSION  what cuDriverGetVersion reports (default 12080 = CUDA 12.8)
 *   KGET_FAKE_CUDA_DEVICES  "NAME:MAJOR.MINOR:SMS:BYTES;..." (default: no devices); NAME may
 *                           itself contain ':' because fields are taken from the right
 *   KGET_FAKE_CUDA_TRACE    a file each entry point appends its name to
 * Built three times: in full; with -DKGET_FAKE_CUDA_MINIMAL, without the optional entry points
 * (names, memory, cuDeviceGetUuid_v2, cuGetErrorName); with -DKGET_FAKE_CUDA_BROKEN, also without
 * the required cuDriverGetVersion and cuDeviceGetCount. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

enum {
  k_success = 0,
  k_invalid_value = 1,
  k_not_initialized = 3,
  k_invalid_device = 101,
  k_max_devices = 16,
  k_name_size = 128,
};

typedef struct {
  char bytes[16];
} FakeUuid;

typedef struct {
  char name[k_name_size];
  int major;
  int minor;
  int sms;
  unsigned long long memory;
} FakeDevice;

static int g_initialized = 0;

static void trace(const char* function) {
  const char* path = getenv("KGET_FAKE_CUDA_TRACE");
  if (path == NULL || *path == '\0') {
    return;
  }
  FILE* file = fopen(path, "a");
  if (file != NULL) {
    fprintf(file, "%s\n", function);
    fclose(file);
  }
}

static int env_int(const char* name, int fallback) {
  const char* value = getenv(name);
  return value != NULL && *value != '\0' ? atoi(value) : fallback;
}

/* Splits one "NAME:MAJOR.MINOR:SMS:BYTES" entry, from the right. Returns 0 when malformed. */
static int parse_device(char* entry, FakeDevice* device) {
  char* fields[3];
  for (int i = 2; i >= 0; --i) {
    char* colon = strrchr(entry, ':');
    if (colon == NULL) {
      return 0;
    }
    *colon = '\0';
    fields[i] = colon + 1;
  }
  snprintf(device->name, sizeof device->name, "%s", entry);
  if (sscanf(fields[0], "%d.%d", &device->major, &device->minor) != 2) {
    return 0;
  }
  device->sms = atoi(fields[1]);
  device->memory = strtoull(fields[2], NULL, 10);
  return 1;
}

static int load_devices(FakeDevice* devices) {
  const char* spec = getenv("KGET_FAKE_CUDA_DEVICES");
  if (spec == NULL) {
    return 0;
  }
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", spec);
  int count = 0;
  char* save = NULL;
  for (char* entry = strtok_r(copy, ";", &save); entry != NULL && count < k_max_devices;
       entry = strtok_r(NULL, ";", &save)) {
    if (parse_device(entry, &devices[count])) {
      ++count;
    }
  }
  return count;
}

/* The device for `ordinal`, or NULL when there is none (or cuInit was not called). */
static int find_device(int ordinal, FakeDevice* device) {
  FakeDevice devices[k_max_devices];
  int count = load_devices(devices);
  if (!g_initialized || ordinal < 0 || ordinal >= count) {
    return 0;
  }
  *device = devices[ordinal];
  return 1;
}

EXPORT int cuInit(unsigned int flags) {
  trace("cuInit");
  if (flags != 0) {
    return k_invalid_value;
  }
  int result = env_int("KGET_FAKE_CUDA_INIT", k_success);
  g_initialized = result == k_success;
  return result;
}

#ifndef KGET_FAKE_CUDA_BROKEN
EXPORT int cuDriverGetVersion(int* version) {
  trace("cuDriverGetVersion");
  if (version == NULL) {
    return k_invalid_value;
  }
  *version = env_int("KGET_FAKE_CUDA_VERSION", 12080);
  return k_success;
}

EXPORT int cuDeviceGetCount(int* count) {
  trace("cuDeviceGetCount");
  if (!g_initialized) {
    return k_not_initialized;
  }
  FakeDevice devices[k_max_devices];
  *count = load_devices(devices);
  return k_success;
}
#endif

EXPORT int cuDeviceGet(int* device, int ordinal) {
  trace("cuDeviceGet");
  FakeDevice found;
  if (!find_device(ordinal, &found)) {
    return k_invalid_device;
  }
  *device = ordinal;
  return k_success;
}

EXPORT int cuDeviceGetAttribute(int* value, int attribute, int device) {
  trace("cuDeviceGetAttribute");
  FakeDevice found;
  if (!find_device(device, &found)) {
    return k_invalid_device;
  }
  switch (attribute) {
  case 16:
    *value = found.sms;
    return k_success;
  case 75:
    *value = found.major;
    return k_success;
  case 76:
    *value = found.minor;
    return k_success;
  default:
    return k_invalid_value;
  }
}

/* cuDeviceGetUuid and _v2 answer differently so that tests can tell which one was used. */
static int fill_uuid(FakeUuid* uuid, int device, int base) {
  FakeDevice found;
  if (!find_device(device, &found)) {
    return k_invalid_device;
  }
  for (int i = 0; i < 16; ++i) {
    uuid->bytes[i] = (char)(base + device * 16 + i);
  }
  return k_success;
}

EXPORT int cuDeviceGetUuid(FakeUuid* uuid, int device) {
  trace("cuDeviceGetUuid");
  return fill_uuid(uuid, device, 0xa0);
}

#if !defined(KGET_FAKE_CUDA_MINIMAL) && !defined(KGET_FAKE_CUDA_BROKEN)
EXPORT int cuDeviceGetUuid_v2(FakeUuid* uuid, int device) {
  trace("cuDeviceGetUuid_v2");
  return fill_uuid(uuid, device, 0x00);
}

EXPORT int cuDeviceGetName(char* name, int length, int device) {
  trace("cuDeviceGetName");
  FakeDevice found;
  if (!find_device(device, &found)) {
    return k_invalid_device;
  }
  if (name == NULL || length <= 0) {
    return k_invalid_value;
  }
  snprintf(name, (size_t)length, "%s", found.name);
  return k_success;
}

EXPORT int cuDeviceTotalMem_v2(size_t* bytes, int device) {
  trace("cuDeviceTotalMem_v2");
  FakeDevice found;
  if (!find_device(device, &found)) {
    return k_invalid_device;
  }
  *bytes = (size_t)found.memory;
  return k_success;
}

EXPORT int cuGetErrorName(int error, const char** name) {
  switch (error) {
  case 0:
    *name = "CUDA_SUCCESS";
    return k_success;
  case 3:
    *name = "CUDA_ERROR_NOT_INITIALIZED";
    return k_success;
  case 34:
    *name = "CUDA_ERROR_STUB_LIBRARY";
    return k_success;
  case 100:
    *name = "CUDA_ERROR_NO_DEVICE";
    return k_success;
  default:
    *name = NULL;
    return k_invalid_value;
  }
}
#endif
