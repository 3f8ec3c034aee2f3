// Top-level build file. Versions: Android Gradle Plugin 8.7, Kotlin 2.0 (Android Studio Ladybug or newer).
plugins {
    id("com.android.application") version "8.7.3" apply false
    id("org.jetbrains.kotlin.android") version "2.0.21" apply false
}
