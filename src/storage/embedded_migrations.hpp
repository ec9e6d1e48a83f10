#pragma once
// Declaration for the build-generated migration table (cmake/EmbedMigrations.cmake).
#include "webhook/storage/database.hpp"
