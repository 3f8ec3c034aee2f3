plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "dev.hybridsplit.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "dev.hybridsplit.demo"
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions {
        jvmTarget = "17"
    }
    androidResources {
        // device.tflite is memory-mapped from the APK: it must be stored uncompressed.
        noCompress += "tflite"
    }
}

dependencies {
    // LiteRT (formerly TensorFlow Lite): the org.tensorflow.lite.Interpreter API, which takes
    // int8 ByteBuffers as they are (device.tflite is full-int8 with int8 input and output).
    implementation("com.google.ai.edge.litert:litert:1.4.1")
    implementation("androidx.appcompat:appcompat:1.7.0")
}
